package sqldb_test

import (
	"slices"
	"testing"
	"time"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/sqldb"
)

func TestMaintainWithoutAutovacuum(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx, sql := t.Context(), db.SQL()
		if sql.Dialect() == sqldb.SQLite {
			if done, err := sql.Maintain(ctx); err != nil || len(done.Vacuumed)+len(done.Analyzed) != 0 {
				t.Errorf("Maintain on SQLite = %+v, %v; want nothing done", done, err)
			}
			return
		}
		var autovacuum string
		if err := sql.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum); err != nil {
			t.Fatal(err)
		}
		if autovacuum == "on" {
			t.Skip("this PostgreSQL runs autovacuum, and Maintain leaves the tables to it")
		}
		for _, stmt := range []string{
			`CREATE TABLE churn (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`,
			`INSERT INTO churn SELECT n, 'row ' || n FROM generate_series(1, 1000) AS n`,
			`DELETE FROM churn WHERE id > 100`,
		} {
			if _, err := sql.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		// The statistics that Maintain reads lag the writes by a second or so.
		var done sqldb.Maintenance
		deadline := time.Now().Add(15 * time.Second)
		for !slices.Contains(done.Vacuumed, "churn") {
			if time.Now().After(deadline) {
				t.Fatalf("Maintain did not vacuum the table of 900 dead rows for 100 live ones (last pass: %+v)", done)
			}
			time.Sleep(200 * time.Millisecond)
			var err error
			if done, err = sql.Maintain(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var analyzed bool
		if err := sql.QueryRow(ctx, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'churn'`).Scan(&analyzed); err != nil || !analyzed {
			t.Errorf("churn analyzed: %v, %v; want statistics after the vacuum", analyzed, err)
		}
		again, err := sql.Maintain(ctx)
		if err != nil || slices.Contains(again.Vacuumed, "churn") || slices.Contains(again.Analyzed, "churn") {
			t.Errorf("a second pass = %+v, %v; want churn left alone", again, err)
		}
	})
}
