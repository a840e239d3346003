package sqldb

import (
	"testing"
	"testing/fstest"
)

func TestMigrationNaming(t *testing.T) {
	cases := []struct {
		name    string
		files   []string
		wantErr bool
	}{
		{"single files", []string{"a/0001_x.sql", "a/0002_y.sql"}, false},
		{"dialect pair", []string{"a/0001_x.postgres.sql", "a/0001_x.sqlite.sql"}, false},
		{"half a pair", []string{"a/0001_x.postgres.sql"}, true},
		{"pair and plain", []string{"a/0001_x.sql", "a/0001_x.sqlite.sql", "a/0001_x.postgres.sql"}, true},
		{"gap", []string{"a/0001_x.sql", "a/0003_y.sql"}, true},
		{"not from one", []string{"a/0002_x.sql"}, true},
		{"bad name", []string{"a/1_x.sql"}, true},
		{"duplicate number", []string{"a/0001_x.sql", "a/0001_y.sql"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys[f] = &fstest.MapFile{Data: []byte("-- x\n")}
			}
			_, err := Migrations(fsys, SQLite)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
