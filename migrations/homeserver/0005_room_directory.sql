-- 0005: the published room directories of application services (data/api/client-server/
-- appservice_room_directory.yaml). The server's own directory is rooms.is_public; an appservice
-- lists rooms under one of its third-party networks, named by the protocol instance_id that
-- GET /thirdparty/protocols shows ("<appservice id>|<network id>"), and /publicRooms selects by
-- that ID. A room may be in several networks and in the server's directory at once.
CREATE TABLE room_directory_networks (
	instance_id TEXT NOT NULL,
	room_id TEXT NOT NULL REFERENCES rooms (room_id),
	-- the parts of instance_id, kept apart since an appservice ID may itself contain '|'
	appservice_id TEXT NOT NULL,
	network_id TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (instance_id, room_id)
);
CREATE INDEX room_directory_networks_room ON room_directory_networks (room_id);

-- Listing the server's directory reads only the published rooms, usually few among many.
CREATE INDEX rooms_public ON rooms (room_id) WHERE is_public;
