-- 0007: thumbnails, and the cache of other servers' media.
--
-- A thumbnail is stored like any media content: its bytes in the content-addressed blob store,
-- recorded in media_content. A blob is kept while a media row or a thumbnail row names it. When
-- the original is already small enough, the thumbnail row names the original's own blob.
CREATE TABLE media_thumbnails (
	server_name TEXT NOT NULL,
	media_id TEXT NOT NULL,
	-- the size class served: one of media.thumbnail_sizes
	width INTEGER NOT NULL,
	height INTEGER NOT NULL,
	method TEXT NOT NULL, -- crop or scale
	animated BOOLEAN NOT NULL,
	content_hash TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size BIGINT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (server_name, media_id, width, height, method, animated)
);
CREATE INDEX media_thumbnails_content_hash ON media_thumbnails (content_hash);

-- Remote media (another server's mxc:// URIs, fetched over federation) is cached in the media
-- table itself, under its origin's server_name, with an empty uploader: one shape for local and
-- remote, so that thumbnails, quarantine and last-access tracking work the same for both.
-- remote marks those rows so that cache pruning never touches local uploads.
ALTER TABLE media ADD COLUMN remote BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX media_remote_last_access ON media (remote, last_access_ts);
