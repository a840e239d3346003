package sqldb

import (
	"context"
	"fmt"
	"strings"
)

const (
	sqliteSchema = `SELECT type, name, COALESCE(sql, '') FROM sqlite_master
		WHERE name NOT LIKE 'sqlite_%' ORDER BY type DESC, name`
	postgresColumns = `SELECT table_name, column_name, data_type, is_nullable, COALESCE(column_default, '')
		FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`
	postgresIndexes   = `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`
	postgresSequences = `SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' ORDER BY sequence_name`
)

// DumpSchema describes the database's tables and indexes as text, in a stable order, for the
// schema golden files that show reviewers the whole migrated schema.
func (db *DB) DumpSchema(ctx context.Context) (string, error) {
	var b strings.Builder
	if db.dialect == SQLite {
		rows, err := db.Query(ctx, sqliteSchema)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		for rows.Next() {
			var typ, name, sql string
			if err := rows.Scan(&typ, &name, &sql); err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "-- %s %s\n%s;\n\n", typ, name, sql)
		}
		return b.String(), rows.Err()
	}
	rows, err := db.Query(ctx, postgresColumns)
	if err != nil {
		return "", err
	}
	table := ""
	for rows.Next() {
		var tbl, col, typ, nullable, def string
		if err := rows.Scan(&tbl, &col, &typ, &nullable, &def); err != nil {
			rows.Close()
			return "", err
		}
		if tbl != table {
			fmt.Fprintf(&b, "\n-- table %s\n", tbl)
			table = tbl
		}
		fmt.Fprintf(&b, "%s %s nullable=%s default=%q\n", col, typ, nullable, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	b.WriteString("\n-- sequences\n")
	rows, err = db.Query(ctx, postgresSequences)
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var seq string
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return "", err
		}
		fmt.Fprintf(&b, "%s\n", seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	b.WriteString("\n-- indexes\n")
	rows, err = db.Query(ctx, postgresIndexes)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s\n", def)
	}
	return b.String(), rows.Err()
}
