package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteEngine keeps one writer connection and a pool of readers. SQLite allows a single writer
// at a time; funnelling every write through one connection turns "database is locked" errors
// into orderly waiting (dendrite spent years on those errors).
type sqliteEngine struct {
	writer *sql.DB
	reader *sql.DB
}

func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	// FULL: a commit is on disk before the client hears 200, surviving power loss, not only a
	// killed process.
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(path string, maxReaders int) (*sqliteEngine, error) {
	writer, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	// Ping creates the file and switches it to WAL before any reader opens it.
	if err := writer.Ping(); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	reader, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	reader.SetMaxOpenConns(max(maxReaders, 1))
	return &sqliteEngine{writer: writer, reader: reader}, nil
}

func (e *sqliteEngine) close() {
	e.reader.Close()
	e.writer.Close()
}

func (e *sqliteEngine) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqlExec(ctx, e.writer, query, args)
}

func (e *sqliteEngine) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := e.reader.QueryContext(ctx, sqlitePlaceholders(query), args...)
	if err != nil {
		return nil, sqliteError(err)
	}
	return sqlRows{rows}, nil
}

func (e *sqliteEngine) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqlRow{e.reader.QueryRowContext(ctx, sqlitePlaceholders(query), args...)}
}

func (e *sqliteEngine) inTx(ctx context.Context, fn func(q Querier) error) error {
	tx, err := e.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", sqliteError(err))
	}
	if err := fn(sqlTx{tx}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", sqliteError(err))
	}
	return nil
}

// sqlTx runs every statement, reads included, on the transaction's connection.
type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqlExec(ctx, t.tx, query, args)
}

func (t sqlTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := t.tx.QueryContext(ctx, sqlitePlaceholders(query), args...)
	if err != nil {
		return nil, sqliteError(err)
	}
	return sqlRows{rows}, nil
}

func (t sqlTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqlRow{t.tx.QueryRowContext(ctx, sqlitePlaceholders(query), args...)}
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func sqlExec(ctx context.Context, db execer, query string, args []any) (int64, error) {
	res, err := db.ExecContext(ctx, sqlitePlaceholders(query), args...)
	if err != nil {
		return 0, sqliteError(err)
	}
	return res.RowsAffected()
}

type sqlRows struct{ rows *sql.Rows }

func (r sqlRows) Next() bool             { return r.rows.Next() }
func (r sqlRows) Scan(dest ...any) error { return r.rows.Scan(dest...) }
func (r sqlRows) Err() error             { return r.rows.Err() }
func (r sqlRows) Close()                 { r.rows.Close() }

type sqlRow struct{ row *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return sqliteError(err)
}

// sqliteError maps unique-constraint violations to ErrConflict so callers need not know the engine.
func sqliteError(err error) error {
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	return err
}

var placeholderCache sync.Map // query text -> rewritten text

// sqlitePlaceholders rewrites PostgreSQL's $N placeholders into SQLite's equivalent ?N, which
// binds the N-th argument just the same. Queries are constants, so the rewrite is cached.
func sqlitePlaceholders(query string) string {
	if cached, ok := placeholderCache.Load(query); ok {
		return cached.(string)
	}
	var b strings.Builder
	inString := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c == '\'' {
			inString = !inString
		}
		if c == '$' && !inString && i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9' {
			c = '?'
		}
		b.WriteByte(c)
	}
	out := b.String()
	placeholderCache.Store(query, out)
	return out
}
