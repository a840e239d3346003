package sqldb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

type pgEngine struct {
	pool *pgxpool.Pool
}

func openPostgres(ctx context.Context, dsn string, maxConns int) (*pgEngine, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		// Statements are described once but planned with each execution's values. A cached
		// prepared statement's generic plan is made when a table is young: on a fresh database
		// it scans tables that have since grown to millions of rows (an import's first hours,
		// or any server with autovacuum off), and nothing replans it.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &pgEngine{pool: pool}, nil
}

func (e *pgEngine) close() { e.pool.Close() }

func (e *pgEngine) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return pgExec(ctx, e.pool, query, args)
}

func (e *pgEngine) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return pgQuery(ctx, e.pool, query, args)
}

func (e *pgEngine) QueryRow(ctx context.Context, query string, args ...any) Row {
	return pgRow{e.pool.QueryRow(ctx, query, args...)}
}

// maxTxAttempts bounds the retries of a transaction that lost a serialization race or a deadlock.
const maxTxAttempts = 5

func (e *pgEngine) inTx(ctx context.Context, fn func(q Querier) error) error {
	var err error
	for attempt := 0; attempt < maxTxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return fn(pgTx{tx}) })
		if !retryable(err) {
			return err
		}
	}
	return fmt.Errorf("transaction failed after %d attempts: %w", maxTxAttempts, err)
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return pgExec(ctx, t.tx, query, args)
}

func (t pgTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return pgQuery(ctx, t.tx, query, args)
}

func (t pgTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return pgRow{t.tx.QueryRow(ctx, query, args...)}
}

type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func pgExec(ctx context.Context, q pgQuerier, query string, args []any) (int64, error) {
	tag, err := q.Exec(ctx, query, args...)
	if err != nil {
		return 0, pgError(err)
	}
	return tag.RowsAffected(), nil
}

func pgQuery(ctx context.Context, q pgQuerier, query string, args []any) (Rows, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, pgError(err)
	}
	return pgRows{rows}, nil
}

type pgRows struct{ rows pgx.Rows }

func (r pgRows) Next() bool             { return r.rows.Next() }
func (r pgRows) Scan(dest ...any) error { return r.rows.Scan(dest...) }
func (r pgRows) Err() error             { return pgError(r.rows.Err()) }
func (r pgRows) Close()                 { r.rows.Close() }

type pgRow struct{ row pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return pgError(err)
}

// pgError maps unique violations to ErrConflict, keeping the original error for retries and logs.
func pgError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}
