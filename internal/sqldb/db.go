// Package sqldb is Causeway's database engine: one Querier for PostgreSQL (pgx's native pool)
// and SQLite (modernc.org/sqlite), transactions with retries, and the numbered migrations
// runner. Queries are written once with $N placeholders; the SQLite adapter rewrites them to
// SQLite's numbered ?N form.
//
// It owns no tables. The homeserver's SQL lives in homeserver/storage and the bridges' in
// their own packages; all of them share one DB per process, which on SQLite is what keeps its
// single writer orderly.
package sqldb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// ErrNotFound is returned by single-row lookups that match no row.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when an insert collides with an existing unique key.
var ErrConflict = errors.New("already exists")

// Dialect names the database engine behind a DB.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Querier runs SQL written with $1, $2, ... placeholders. Both engines' adapters implement it.
type Querier interface {
	// Exec runs a statement and reports the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a query; the caller must Close the rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a query expected to return at most one row. Scan returns ErrNotFound for none.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows iterates over a query's result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the result of QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// engine is what each database adapter provides beyond plain querying.
type engine interface {
	Querier
	// inTx runs fn in one write transaction, retrying it when the engine reports a
	// serialization failure. fn may run more than once.
	inTx(ctx context.Context, fn func(q Querier) error) error
	close()
}

// DB is the process-wide database handle. Its Querier methods run outside any transaction.
type DB struct {
	Querier
	eng     engine
	dialect Dialect
	log     *slog.Logger
}

// Tx is one write transaction.
type Tx struct {
	Querier
}

// Open connects to the database named by driver ("sqlite" or "postgres") and dsn. maxConns
// bounds the connection pool (readers, for SQLite). It applies no migrations: see Migrate.
func Open(ctx context.Context, driver, dsn string, maxConns int, log *slog.Logger) (*DB, error) {
	var eng engine
	var dialect Dialect
	var err error
	switch driver {
	case "sqlite":
		eng, err = openSQLite(dsn, maxConns)
		dialect = SQLite
	case "postgres":
		eng, err = openPostgres(ctx, dsn, maxConns)
		dialect = Postgres
	default:
		return nil, fmt.Errorf("unknown database driver %q", driver)
	}
	if err != nil {
		return nil, err
	}
	return &DB{Querier: eng, eng: eng, dialect: dialect, log: log}, nil
}

// Dialect reports the engine behind db.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close releases every connection.
func (db *DB) Close() { db.eng.close() }

// InTx runs fn in one write transaction: everything fn writes commits together or not at all.
// fn may be run again after a serialization failure, so it must not have side effects outside
// the transaction. On SQLite the transaction holds the single writer for its whole duration.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.eng.inTx(ctx, func(q Querier) error {
		return fn(&Tx{Querier: q})
	})
}
