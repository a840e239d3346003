// Package storagetest gives tests real databases: a fresh SQLite file per test, and a fresh
// PostgreSQL database per test cloned from a migrated template when CAUSEWAY_TEST_POSTGRES is
// set. It never fakes the database.
package storagetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"causeway/homeserver/storage"
	"causeway/migrations"
)

// EnvPostgres names the variable holding a PostgreSQL URL with rights to create databases.
const EnvPostgres = "CAUSEWAY_TEST_POSTGRES"

// Each runs fn once against SQLite and once against PostgreSQL, as subtests named after the
// engine. Without CAUSEWAY_TEST_POSTGRES the postgres subtest is skipped, except under CI,
// where it fails: CI always has PostgreSQL.
func Each(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// EachDSN runs fn against each engine, for tests that start a whole server. dsn is a fresh
// database as configuration's database.url names it (sqlite://PATH or a postgres:// URL).
func EachDSN(t *testing.T, fn func(t *testing.T, driver, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite", DatabaseURL(t, "sqlite")) })
	t.Run("postgres", func(t *testing.T) { fn(t, "postgres", DatabaseURL(t, "postgres")) })
}

// EachDSNBench is EachDSN for benchmarks.
func EachDSNBench(b *testing.B, fn func(b *testing.B, driver, dsn string)) {
	b.Helper()
	b.Run("sqlite", func(b *testing.B) { fn(b, "sqlite", DatabaseURL(b, "sqlite")) })
	b.Run("postgres", func(b *testing.B) { fn(b, "postgres", DatabaseURL(b, "postgres")) })
}

// DatabaseURL creates a fresh database of the driver ("sqlite" or "postgres") and returns it
// as configuration's database.url names it.
func DatabaseURL(t testing.TB, driver string) string {
	t.Helper()
	if driver == "sqlite" {
		return "sqlite://" + SQLitePath(t)
	}
	return PostgresURL(t)
}

// SQLitePath returns the path of a not-yet-existing SQLite file in the test's temp dir.
func SQLitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "causeway.db")
}

// SQLite opens a migrated SQLite database in the test's temp dir.
func SQLite(t testing.TB) *storage.DB {
	t.Helper()
	return open(t, "sqlite", SQLitePath(t))
}

// Postgres opens a fresh migrated PostgreSQL database, dropped when the test ends.
func Postgres(t testing.TB) *storage.DB {
	t.Helper()
	return open(t, "postgres", PostgresURL(t))
}

func open(t testing.TB, driver, dsn string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), driver, dsn, 4, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(db.Close)
	return db
}

var template struct {
	once sync.Once
	name string
	err  error
}

// PostgresURL creates a fresh PostgreSQL database from the migrated template and returns its
// URL. The database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL suite", EnvPostgres)
		}
		t.Skipf("PostgreSQL suite skipped: set %s to a postgres:// URL to run it", EnvPostgres)
	}
	template.once.Do(func() { template.name, template.err = ensureTemplate(admin) })
	if template.err != nil {
		t.Fatalf("postgres template: %v", template.err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect %s: %v", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	name := "causeway_test_" + randomHex(6)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, template.name)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return withDatabase(t, admin, name)
}

// ensureTemplate creates, once across all concurrently running test binaries, a database
// migrated to the current schema. Its name carries a hash of the migrations, so a changed
// schema gets a new template.
func ensureTemplate(admin string) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7351002)`); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(7351002)`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building))
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + building
	db, err := storage.Open(ctx, "postgres", u.String(), 2, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	db.Close()
	// Renaming last means a template that exists is always complete.
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(body)
		return err
	})
	if err != nil {
		return "", err
	}
	return "causeway_template_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

func withDatabase(t testing.TB, admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
