package storage

import "context"

// RecordMigrationForTest pretends a migration was applied, as a newer binary would have.
func (tx *Tx) RecordMigrationForTest(ctx context.Context, owner string, version int) error {
	_, err := tx.q.Exec(ctx, `INSERT INTO schema_migrations (owner, version, name, applied_ts) VALUES ($1, $2, 'future', 0)`, owner, version)
	return err
}
