// Package migrations embeds Causeway's numbered SQL schema migrations.
//
// Files are named <owner>/<NNNN>_<what>.sql, or <NNNN>_<what>.postgres.sql and .sqlite.sql when
// the two engines need different DDL. They are forward-only: a merged migration is never edited;
// a change is a new number. The first line of each file says what it does and why. The runner
// is internal/sqldb (Migrate); this package only holds the files. Each owner (homeserver,
// bridge, ...) numbers its own migrations, and every owner's are applied when the database opens.
package migrations

import "embed"

// FS holds every migration file, by owner folder.
//
//go:embed */*.sql
var FS embed.FS
