package sqldb

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema change for one owner, with the SQL for a given dialect.
type Migration struct {
	Owner   string
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+?)(\.postgres|\.sqlite)?\.sql$`)

// Migrations lists the embedded migrations that apply to dialect, ordered by owner and version.
// It fails on a malformed name, a duplicate number or a dialect variant without its pair.
func Migrations(fsys fs.FS, dialect Dialect) ([]Migration, error) {
	files, err := fs.Glob(fsys, "*/*.sql")
	if err != nil {
		return nil, err
	}
	type key struct {
		owner   string
		version int
	}
	variants := map[key][]string{}
	var out []Migration
	for _, file := range files {
		owner, base := path.Split(file)
		owner = strings.TrimSuffix(owner, "/")
		m := migrationName.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("migration %s: name must look like 0001_what.sql", file)
		}
		version, _ := strconv.Atoi(m[1])
		k := key{owner, version}
		variants[k] = append(variants[k], m[3])
		if m[3] != "" && m[3] != "."+dialect.String() {
			continue
		}
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Owner: owner, Version: version, Name: m[2], SQL: string(body)})
	}
	for k, v := range variants {
		slices.Sort(v)
		if !slices.Equal(v, []string{""}) && !slices.Equal(v, []string{".postgres", ".sqlite"}) {
			return nil, fmt.Errorf("migration %s/%04d: need one .sql file or a .postgres.sql and .sqlite.sql pair, found %q", k.owner, k.version, v)
		}
	}
	slices.SortFunc(out, func(a, b Migration) int {
		if c := strings.Compare(a.Owner, b.Owner); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	for i, m := range out {
		if i == 0 || out[i-1].Owner != m.Owner {
			if m.Version != 1 {
				return nil, fmt.Errorf("migrations of %s must start at 0001", m.Owner)
			}
		} else if m.Version != out[i-1].Version+1 {
			return nil, fmt.Errorf("migrations of %s: %04d follows %04d, numbers must be consecutive", m.Owner, m.Version, out[i-1].Version)
		}
	}
	return out, nil
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
	owner TEXT NOT NULL,
	version BIGINT NOT NULL,
	name TEXT NOT NULL,
	applied_ts BIGINT NOT NULL,
	PRIMARY KEY (owner, version)
)`

// Migrate applies every pending migration in fsys (see Migrations), all in one transaction with
// their records, and refuses to run against a schema newer than this binary knows.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS) error {
	all, err := Migrations(fsys, db.dialect)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error {
		if db.dialect == Postgres {
			// Several instances starting at once must not migrate concurrently.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7351001)`); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		known := map[string]int{}
		for _, m := range all {
			known[m.Owner] = m.Version
		}
		for owner, v := range applied {
			if v > known[owner] {
				return fmt.Errorf("database schema %s is at version %d, newer than this binary's %d: upgrade causeway", owner, v, known[owner])
			}
		}
		for _, m := range all {
			if m.Version <= applied[m.Owner] {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s/%04d_%s: %w", m.Owner, m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (owner, version, name, applied_ts) VALUES ($1, $2, $3, $4)`,
				m.Owner, m.Version, m.Name, time.Now().UnixMilli()); err != nil {
				return err
			}
			db.log.InfoContext(ctx, "applied migration", "owner", m.Owner, "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

func appliedVersions(ctx context.Context, q Querier) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT owner, MAX(version) FROM schema_migrations GROUP BY owner`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var owner string
		var v int
		if err := rows.Scan(&owner, &v); err != nil {
			return nil, err
		}
		out[owner] = v
	}
	return out, rows.Err()
}
