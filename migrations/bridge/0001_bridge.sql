-- 0001: what the built-in bridges (bridges/bridge) remember. Every table is keyed by network
-- ("slack", "discord") and workspace (a Slack team ID, a Discord guild ID), so that one database
-- holds several workspaces of several networks. The history importer shares these tables with the
-- live bridge: one remote-ID -> event-ID map is what keeps the two from bridging anything twice.

-- A portal is the Matrix room of one remote conversation.
CREATE TABLE bridge_portals (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	kind TEXT NOT NULL, -- channel, private, dm, group_dm
	name TEXT NOT NULL,
	topic TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, channel_id)
);
CREATE UNIQUE INDEX bridge_portals_room ON bridge_portals (room_id);

-- The space that holds a workspace's portals.
CREATE TABLE bridge_spaces (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	room_id TEXT NOT NULL,
	PRIMARY KEY (network, workspace)
);

-- A ghost is the Matrix user standing for one remote user or bot.
CREATE TABLE bridge_ghosts (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	name TEXT NOT NULL,
	avatar_source TEXT NOT NULL, -- the remote avatar's URL, to notice changes
	avatar_mxc TEXT NOT NULL,
	is_bot BOOLEAN NOT NULL,
	updated_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, remote_id)
);

-- Which Matrix event each remote message became. A remote message may become several events
-- (a text and its files), numbered by part. sort_key orders a channel's messages (for Slack,
-- the ts in microseconds), so that catching up after downtime starts after the newest one.
CREATE TABLE bridge_messages (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	part INTEGER NOT NULL,
	sort_key BIGINT NOT NULL,
	thread_id TEXT NOT NULL, -- the remote ID of the thread's root, '' outside threads
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	sender TEXT NOT NULL, -- the Matrix user who sent the event
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, channel_id, remote_id, part)
);
CREATE UNIQUE INDEX bridge_messages_event ON bridge_messages (event_id);
CREATE INDEX bridge_messages_order ON bridge_messages (network, workspace, channel_id, sort_key);
CREATE INDEX bridge_messages_created ON bridge_messages (created_ts);

-- Which Matrix annotation each remote reaction became, and the other way round.
CREATE TABLE bridge_reactions (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	channel_id TEXT NOT NULL,
	message_id TEXT NOT NULL,
	remote_user_id TEXT NOT NULL,
	emoji TEXT NOT NULL, -- the remote name, e.g. "thumbsup" or a custom emoji's
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, channel_id, message_id, remote_user_id, emoji)
);
CREATE UNIQUE INDEX bridge_reactions_event ON bridge_reactions (event_id);

-- Matrix users who logged in to the remote network with their own token: their messages are
-- posted as themselves (double puppeting), and their remote identity maps to their Matrix account.
CREATE TABLE bridge_logins (
	network TEXT NOT NULL,
	workspace TEXT NOT NULL,
	user_id TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	token TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (network, workspace, user_id)
);
CREATE UNIQUE INDEX bridge_logins_remote ON bridge_logins (network, workspace, remote_id);
