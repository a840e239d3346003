package storage_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite the schema golden files in testdata/")

// TestSchemaGolden dumps the migrated schema of each engine to testdata/schema.<engine>.sql so
// that reviewers always see the whole schema; run with -update after adding a migration.
func TestSchemaGolden(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		got, err := db.DumpSchema(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", fmt.Sprintf("schema.%s.sql", db.Dialect()))
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./homeserver/storage -run TestSchemaGolden -update)", err)
		}
		if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(got)); diff != "" {
			t.Errorf("schema differs from %s (-want +got); run with -update if intended:\n%s", path, diff)
		}
	})
}
