package sqldb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Maintenance is what one Maintain pass did.
type Maintenance struct {
	Vacuumed []string // tables vacuumed and analyzed: many dead rows
	Analyzed []string // tables analyzed only: many rows changed since the last statistics
}

// The thresholds of PostgreSQL's autovacuum at its defaults: a table is vacuumed once its
// dead rows exceed vacuumBase + vacuumScale × its live rows, and analyzed once the rows
// changed since its last ANALYZE exceed analyzeBase + analyzeScale × its live rows.
const (
	vacuumBase   = 50
	vacuumScale  = 0.2
	analyzeBase  = 50
	analyzeScale = 0.1
)

// Maintain does on PostgreSQL what autovacuum does, when autovacuum is off: it vacuums the
// tables of the current schema that have many dead rows and analyzes those whose statistics
// are stale, by autovacuum's default thresholds. Without it such a server slowly fills its
// tables with dead rows (each sent event replaces a forward extremity) and, worse, plans
// queries with no statistics at all: a growing table is then read whole where an index would
// do. With autovacuum on (PostgreSQL's default), and on SQLite, it does nothing.
//
// PostgreSQL counts dead and changed rows asynchronously, a second or so behind the writes.
func (db *DB) Maintain(ctx context.Context) (Maintenance, error) {
	var done Maintenance
	if db.dialect != Postgres {
		return done, nil
	}
	var autovacuum string
	if err := db.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum); err != nil {
		return done, fmt.Errorf("show autovacuum: %w", err)
	}
	if autovacuum == "on" {
		return done, nil
	}
	vacuum, analyze, err := db.staleTables(ctx)
	if err != nil {
		return done, err
	}
	for _, table := range vacuum {
		if _, err := db.Exec(ctx, `VACUUM (ANALYZE) `+pgx.Identifier{table}.Sanitize()); err != nil {
			return done, fmt.Errorf("vacuum %s: %w", table, err)
		}
		done.Vacuumed = append(done.Vacuumed, table)
	}
	for _, table := range analyze {
		if _, err := db.Exec(ctx, `ANALYZE `+pgx.Identifier{table}.Sanitize()); err != nil {
			return done, fmt.Errorf("analyze %s: %w", table, err)
		}
		done.Analyzed = append(done.Analyzed, table)
	}
	return done, nil
}

// staleTables lists the tables of the current schema past autovacuum's thresholds: those to
// vacuum (and analyze), and those to analyze only.
func (db *DB) staleTables(ctx context.Context) (vacuum, analyze []string, err error) {
	rows, err := db.Query(ctx, `SELECT relname,
			n_dead_tup > $1 + $2 * n_live_tup,
			n_mod_since_analyze > $3 + $4 * n_live_tup
		FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname`,
		vacuumBase, vacuumScale, analyzeBase, analyzeScale)
	if err != nil {
		return nil, nil, fmt.Errorf("table statistics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var needsVacuum, needsAnalyze bool
		if err := rows.Scan(&table, &needsVacuum, &needsAnalyze); err != nil {
			return nil, nil, fmt.Errorf("table statistics: %w", err)
		}
		switch {
		case needsVacuum:
			vacuum = append(vacuum, table)
		case needsAnalyze:
			analyze = append(analyze, table)
		}
	}
	return vacuum, analyze, rows.Err()
}
