// Package storage owns every SQL statement the homeserver runs against its database.
//
// The engine (PostgreSQL or SQLite behind one Querier, transactions, migrations) is
// internal/sqldb; this package holds the homeserver's tables and queries, written once with $N
// placeholders. Domain logic (event building, authorization, sync assembly) does not belong
// here; this package only reads and writes rows.
package storage

import (
	"context"
	"log/slog"

	"causeway/internal/sqldb"
	"causeway/migrations"
)

// ErrNotFound is returned by single-row lookups that match no row.
var ErrNotFound = sqldb.ErrNotFound

// ErrConflict is returned when an insert collides with an existing unique key.
var ErrConflict = sqldb.ErrConflict

// Dialect names the database engine behind a DB.
type Dialect = sqldb.Dialect

// The engines.
const (
	SQLite   = sqldb.SQLite
	Postgres = sqldb.Postgres
)

// Querier, Rows and Row are the engine's; see internal/sqldb.
type (
	Querier = sqldb.Querier
	Rows    = sqldb.Rows
	Row     = sqldb.Row
)

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
	sql *sqldb.DB
}

// Tx is one write transaction. Its methods are the same table methods as DB's.
type Tx struct {
	conn
}

// Open connects to the database named by driver ("sqlite" or "postgres") and dsn, and applies
// pending migrations (every owner's in migrations.FS: the homeserver's and the bridges'). maxConns
// bounds the connection pool (readers, for SQLite).
func Open(ctx context.Context, driver, dsn string, maxConns int, log *slog.Logger) (*DB, error) {
	s, err := sqldb.Open(ctx, driver, dsn, maxConns, log)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx, migrations.FS); err != nil {
		s.Close()
		return nil, err
	}
	return &DB{conn: conn{q: s, dialect: s.Dialect()}, sql: s}, nil
}

// SQL returns the engine handle, for the other components that keep tables in the same
// database (the bridges): one handle per process.
func (db *DB) SQL() *sqldb.DB { return db.sql }

// Close releases every connection.
func (db *DB) Close() { db.sql.Close() }

// InTx runs fn in one write transaction: everything fn writes commits together or not at all.
// fn may be run again after a serialization failure, so it must not have side effects outside
// the transaction. On SQLite the transaction holds the single writer for its whole duration.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.sql.InTx(ctx, func(tx *sqldb.Tx) error {
		return fn(&Tx{conn: conn{q: tx, dialect: db.dialect}})
	})
}

// DumpSchema describes the database's tables and indexes as text, in a stable order, for the
// schema golden files.
func (db *DB) DumpSchema(ctx context.Context) (string, error) { return db.sql.DumpSchema(ctx) }
