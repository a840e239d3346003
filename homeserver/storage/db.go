// Package storage owns every SQL statement Causeway runs against its database.
//
// One code path serves PostgreSQL (pgx's native pool) and SQLite (modernc.org/sqlite): queries are
// written once with $N placeholders against the small Querier interface, and the SQLite adapter
// rewrites the placeholders to SQLite's numbered ?N form. Domain logic (event building,
// authorization, sync assembly) does not belong here; this package only reads and writes rows.
package storage

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

// conn holds the table methods; DB and Tx both embed it, so every method works inside and
// outside a transaction.
type conn struct {
	q       Querier
	dialect Dialect
}

// Dialect reports the engine behind this connection.
func (c conn) Dialect() Dialect { return c.dialect }

// DB is the process-wide database handle.
type DB struct {
	conn
	eng engine
	log *slog.Logger
}

// Tx is one write transaction. Its methods are the same table methods as DB's.
type Tx struct {
	conn
}

// Open connects to the database named by driver ("sqlite" or "postgres") and dsn, and applies
// pending migrations. maxConns bounds the connection pool (readers, for SQLite).
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
	db := &DB{conn: conn{q: eng, dialect: dialect}, eng: eng, log: log}
	if err := db.migrate(ctx); err != nil {
		eng.close()
		return nil, err
	}
	return db, nil
}

// Close releases every connection.
func (db *DB) Close() { db.eng.close() }

// InTx runs fn in one write transaction: everything fn writes commits together or not at all.
// fn may be run again after a serialization failure, so it must not have side effects outside
// the transaction. On SQLite the transaction holds the single writer for its whole duration.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.eng.inTx(ctx, func(q Querier) error {
		return fn(&Tx{conn: conn{q: q, dialect: db.dialect}})
	})
}
