-- 0003: the cutover of conversations to Matrix (migration/cutover). relay says which way a
-- portal still carries messages once its conversation moved: '' both ways, 'to-matrix' only
-- the stragglers still written in Slack, 'none' nothing. bridge_matrix_activity counts, per
-- week, who wrote in a workspace's portals from Matrix, for the team lead's summary.
ALTER TABLE bridge_portals ADD COLUMN relay TEXT NOT NULL DEFAULT '';

CREATE TABLE bridge_matrix_activity (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	week_ts BIGINT NOT NULL, -- Unix ms of the week's start (Monday 00:00 UTC)
	user_id TEXT NOT NULL,
	messages BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, week_ts, user_id)
);
