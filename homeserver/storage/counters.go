package storage

import (
	"context"
	"fmt"
)

const nextCounter = `UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value`

// NextCounter increments the named counter and returns its new value. Inside a transaction the
// counter row stays locked until commit, so values become visible in the order handed out.
// Call it as late as possible in a transaction to keep that lock short.
func (tx *Tx) NextCounter(ctx context.Context, name string) (int64, error) {
	var v int64
	if err := tx.q.QueryRow(ctx, nextCounter, name).Scan(&v); err != nil {
		return 0, fmt.Errorf("next %s: %w", name, err)
	}
	return v, nil
}

// Counter returns the named counter's current (last handed out) value.
func (c conn) Counter(ctx context.Context, name string) (int64, error) {
	var v int64
	if err := c.q.QueryRow(ctx, `SELECT value FROM counters WHERE name = $1`, name).Scan(&v); err != nil {
		return 0, fmt.Errorf("counter %s: %w", name, err)
	}
	return v, nil
}
