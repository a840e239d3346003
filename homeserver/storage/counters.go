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

// Counters returns the current values of the named counters, read together in one query: one
// snapshot of several streams, and one round trip instead of one each.
func (c conn) Counters(ctx context.Context, names ...string) (map[string]int64, error) {
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	rows, err := c.q.Query(ctx, `SELECT name, value FROM counters WHERE name IN (`+placeholders(1, len(names))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(names))
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, fmt.Errorf("counters: %w", err)
		}
		out[name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("counter %s: %w", n, ErrNotFound)
		}
	}
	return out, nil
}
