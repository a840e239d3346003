-- 0008: the cache of URL previews (GET /_matrix/client/v1/media/preview_url). A preview's image is
-- stored as local media with no uploader, so that it counts against nobody's quota.
CREATE TABLE url_previews (
	url TEXT PRIMARY KEY,
	properties TEXT NOT NULL, -- the JSON object served, og:image already an mxc:// URI
	fetched_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL
);
CREATE INDEX url_previews_expires ON url_previews (expires_ts);
