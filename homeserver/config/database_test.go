package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDatabaseResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		url        string
		wantDriver string
		wantDSN    string
	}{
		{"empty is SQLite in data_dir", "", "sqlite", "/var/lib/causeway/causeway.db"},
		{"postgres", "postgres://causeway:pw@db:5432/causeway?sslmode=disable", "postgres", "postgres://causeway:pw@db:5432/causeway?sslmode=disable"},
		{"postgresql", "postgresql://db/causeway", "postgres", "postgresql://db/causeway"},
		{"postgres unix socket", "postgres:///causeway?host=/run/postgresql", "postgres", "postgres:///causeway?host=/run/postgresql"},
		{"scheme case", "PostgreSQL://db/causeway", "postgres", "PostgreSQL://db/causeway"},
		{"sqlite relative", "sqlite://state/causeway.db", "sqlite", "state/causeway.db"},
		{"sqlite absolute", "sqlite:///srv/causeway.db", "sqlite", "/srv/causeway.db"},
		{"file relative", "file:causeway.db", "sqlite", "causeway.db"},
		{"file absolute", "file:/srv/causeway.db", "sqlite", "/srv/causeway.db"},
		{"unknown scheme", "mysql://db/causeway", "", ""},
		{"bare path", "/srv/causeway.db", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			driver, dsn := Database{URL: tt.url}.Resolve("/var/lib/causeway")
			if diff := cmp.Diff([]string{tt.wantDriver, tt.wantDSN}, []string{driver, dsn}); diff != "" {
				t.Errorf("Resolve() (driver, dsn) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDatabaseValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		db   Database
		want []string
	}{
		{"default", Database{MaxOpenConns: 10}, nil},
		{"postgres", Database{URL: "postgres://db/causeway", MaxOpenConns: 10}, nil},
		{"sqlite", Database{URL: "sqlite://x.db", MaxOpenConns: 1}, nil},
		{"sqlite without path", Database{URL: "sqlite://", MaxOpenConns: 1},
			[]string{`url: must name a file, as in sqlite://PATH or file:PATH (got "sqlite://")`}},
		{"bad postgres URL", Database{URL: "postgres://u:secret@db/%zz", MaxOpenConns: 1},
			[]string{`url: must be a valid PostgreSQL URL such as postgres://user:password@host:5432/causeway (value not shown: it may hold a password)`}},
		{"bare path", Database{URL: "causeway.db", MaxOpenConns: 1},
			[]string{`url: must be empty, a postgres:// or postgresql:// URL, sqlite://PATH or file:PATH (got "causeway.db")`}},
		{"no connections", Database{MaxOpenConns: -1},
			[]string{`max_open_conns: must be greater than 0 (got -1)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, err := range tt.db.Validate() {
				got = append(got, err.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
