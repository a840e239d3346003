-- 0001: what history import and the channel-by-channel cutover remember (migration/importer,
-- migration/cutover): where each conversation's imported past went and where it stands in the
-- migration, and the import jobs with their progress and reports, so that a job outlives a
-- restart and the CLI can follow it.

-- One row per remote conversation that an import or the cutover has touched.
CREATE TABLE migration_channels (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	name TEXT NOT NULL,
	-- planned, imported, bridged, matrix-primary, archived
	state TEXT NOT NULL,
	-- the state before the last change, for a rollback; '' for none
	previous_state TEXT NOT NULL,
	-- the room of the past when the portal had live traffic before the import; '' otherwise
	history_room_id TEXT NOT NULL,
	-- messages older than this sort key (Slack ts in microseconds) go to the history room
	history_before BIGINT NOT NULL,
	messages_imported BIGINT NOT NULL,
	messages_failed BIGINT NOT NULL,
	files_missing BIGINT NOT NULL,
	-- the ts of the notice the cutover posted and pinned in the remote channel; '' for none
	notice_ts TEXT NOT NULL,
	updated_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, channel_id)
);

-- Import jobs. params holds the options, a files token included (as bridge_logins holds
-- tokens); the admin API never shows it.
CREATE TABLE migration_jobs (
	id TEXT NOT NULL PRIMARY KEY,
	kind TEXT NOT NULL,      -- slack-export, slack-api
	params TEXT NOT NULL,    -- JSON of importer.Options
	state TEXT NOT NULL,     -- running, done, failed, cancelled
	progress TEXT NOT NULL,  -- JSON of importer.Progress
	report TEXT NOT NULL,    -- JSON of importer.Report; '' until the job ends
	error TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	updated_ts BIGINT NOT NULL
);
CREATE INDEX migration_jobs_updated ON migration_jobs (updated_ts);
