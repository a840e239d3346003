package config

import (
	"net/url"
	"path/filepath"
	"strings"
)

// Database drivers returned by Database.Resolve.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Database is the database: section.
type Database struct {
	// URL selects the database. Empty means an SQLite file in data_dir; a
	// postgres:// or postgresql:// URL selects PostgreSQL; sqlite://PATH or
	// file:PATH selects an SQLite file at PATH. See Resolve.
	URL string `yaml:"url"`
	// MaxOpenConns caps the number of open connections (PostgreSQL pool size).
	MaxOpenConns int `yaml:"max_open_conns"`
}

// Defaults sets d to an SQLite database in data_dir.
func (d *Database) Defaults() {
	*d = Database{URL: "", MaxOpenConns: 10}
}

// Validate reports every problem in d, keyed relative to the section.
// Messages never repeat a PostgreSQL URL, which may hold a password.
func (d Database) Validate() []error {
	var errs []error
	switch driver, dsn := d.Resolve("."); driver {
	case DriverPostgres:
		if _, err := url.Parse(d.URL); err != nil {
			// The url.Error would quote the URL, password and all.
			errs = append(errs, keyErrorf("url", "must be a valid PostgreSQL URL such as postgres://user:password@host:5432/causeway (value not shown: it may hold a password)"))
		}
	case DriverSQLite:
		if dsn == "" {
			errs = append(errs, keyErrorf("url", "must name a file, as in sqlite://PATH or file:PATH (got %q)", d.URL))
		}
	default:
		errs = append(errs, keyErrorf("url", "must be empty, a postgres:// or postgresql:// URL, sqlite://PATH or file:PATH (got %q)", schemeOf(d.URL)))
	}
	if d.MaxOpenConns <= 0 {
		errs = append(errs, keyErrorf("max_open_conns", "must be greater than 0 (got %d)", d.MaxOpenConns))
	}
	return errs
}

// Resolve returns the database driver, DriverSQLite or DriverPostgres, and
// the data source name to open:
//
//   - "" gives an SQLite file causeway.db in dataDir;
//   - postgres://… and postgresql://… give PostgreSQL with the URL unchanged;
//   - sqlite://PATH and file:PATH give an SQLite file at PATH, exactly as
//     written (relative to the working directory, like data_dir).
//
// For SQLite the DSN is a file path, to which the storage package adds its
// own pragmas. For any other URL, which Validate rejects, both are "".
func (d Database) Resolve(dataDir string) (driver, dsn string) {
	switch u := d.URL; {
	case u == "":
		return DriverSQLite, filepath.Join(dataDir, "causeway.db")
	case hasPrefixFold(u, "postgres://"), hasPrefixFold(u, "postgresql://"):
		return DriverPostgres, u
	case hasPrefixFold(u, "sqlite://"):
		return DriverSQLite, u[len("sqlite://"):]
	case hasPrefixFold(u, "file:"):
		return DriverSQLite, u[len("file:"):]
	}
	return "", ""
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case, as
// URL schemes do.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// schemeOf returns the part of a database URL that is safe to show in a
// message: up to its scheme separator followed by "…", or all of it when it
// has no colon and so cannot hold a user:password pair.
func schemeOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		return u[:i+3] + "…"
	}
	if i := strings.IndexByte(u, ':'); i >= 0 {
		return u[:i+1] + "…"
	}
	return u
}
