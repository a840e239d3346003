
-- table access_tokens
token_hash text nullable=NO default=""
user_id text nullable=NO default=""
device_id text nullable=NO default=""
refresh_token_hash text nullable=YES default=""
created_ts bigint nullable=NO default=""
expires_ts bigint nullable=NO default="0"

-- table account_data
user_id text nullable=NO default=""
room_id text nullable=NO default=""
type text nullable=NO default=""
content text nullable=NO default=""
stream_pos bigint nullable=NO default=""
updated_ts bigint nullable=NO default=""

-- table appservice_grants
user_id text nullable=NO default=""
appservice_id text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table appservice_streams
appservice_id text nullable=NO default=""
delivered_pos bigint nullable=NO default=""
next_txn_id bigint nullable=NO default="1"
last_success_ts bigint nullable=NO default="0"
last_error text nullable=NO default="''::text"
last_error_ts bigint nullable=NO default="0"
created_ts bigint nullable=NO default=""
to_device_pos bigint nullable=NO default="0"
device_lists_pos bigint nullable=NO default="0"

-- table appservice_txns
appservice_id text nullable=NO default=""
txn_id bigint nullable=NO default=""
upto_pos bigint nullable=NO default=""
body bytea nullable=NO default=""
event_count bigint nullable=NO default=""
created_ts bigint nullable=NO default=""
to_device_upto bigint nullable=NO default="0"
device_lists_upto bigint nullable=NO default="0"

-- table bridge_ghosts
network text nullable=NO default=""
workspace text nullable=NO default=""
remote_id text nullable=NO default=""
user_id text nullable=NO default=""
name text nullable=NO default=""
avatar_source text nullable=NO default=""
avatar_mxc text nullable=NO default=""
is_bot boolean nullable=NO default=""
updated_ts bigint nullable=NO default=""

-- table bridge_logins
network text nullable=NO default=""
workspace text nullable=NO default=""
user_id text nullable=NO default=""
remote_id text nullable=NO default=""
token text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table bridge_matrix_activity
network text nullable=NO default=""
workspace text nullable=NO default=""
week_ts bigint nullable=NO default=""
user_id text nullable=NO default=""
messages bigint nullable=NO default=""

-- table bridge_messages
network text nullable=NO default=""
workspace text nullable=NO default=""
channel_id text nullable=NO default=""
remote_id text nullable=NO default=""
part integer nullable=NO default=""
sort_key bigint nullable=NO default=""
thread_id text nullable=NO default=""
room_id text nullable=NO default=""
event_id text nullable=NO default=""
sender text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table bridge_portals
network text nullable=NO default=""
workspace text nullable=NO default=""
channel_id text nullable=NO default=""
room_id text nullable=NO default=""
kind text nullable=NO default=""
name text nullable=NO default=""
topic text nullable=NO default=""
created_ts bigint nullable=NO default=""
relay text nullable=NO default="''::text"

-- table bridge_reactions
network text nullable=NO default=""
workspace text nullable=NO default=""
channel_id text nullable=NO default=""
message_id text nullable=NO default=""
remote_user_id text nullable=NO default=""
emoji text nullable=NO default=""
room_id text nullable=NO default=""
event_id text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table bridge_secrets
name text nullable=NO default=""
value text nullable=NO default=""

-- table bridge_spaces
network text nullable=NO default=""
workspace text nullable=NO default=""
room_id text nullable=NO default=""

-- table counters
name text nullable=NO default=""
value bigint nullable=NO default=""

-- table cross_signing_keys
user_id text nullable=NO default=""
key_type text nullable=NO default=""
public_key text nullable=NO default=""
key_json text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table current_state
room_id text nullable=NO default=""
type text nullable=NO default=""
state_key text nullable=NO default=""
event_id text nullable=NO default=""
membership text nullable=YES default=""
stream_pos bigint nullable=NO default=""

-- table dehydrated_devices
user_id text nullable=NO default=""
device_id text nullable=NO default=""
device_data text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table device_keys
user_id text nullable=NO default=""
device_id text nullable=NO default=""
key_json text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table device_list_changes
stream_pos bigint nullable=NO default=""
user_id text nullable=NO default=""
device_id text nullable=NO default=""
ts bigint nullable=NO default=""

-- table devices
user_id text nullable=NO default=""
device_id text nullable=NO default=""
display_name text nullable=YES default=""
created_ts bigint nullable=NO default=""
last_seen_ts bigint nullable=NO default=""
last_seen_ip text nullable=NO default="''::text"

-- table event_relations
event_id text nullable=NO default=""
room_id text nullable=NO default=""
relates_to text nullable=NO default=""
rel_type text nullable=NO default=""
type text nullable=NO default=""
sender text nullable=NO default=""
stream_pos bigint nullable=NO default=""

-- table event_search
event_id text nullable=NO default=""
room_id text nullable=NO default=""
stream_pos bigint nullable=NO default=""
type text nullable=NO default=""
sender text nullable=NO default=""
search_key text nullable=NO default=""
vector tsvector nullable=NO default=""

-- table events
event_id text nullable=NO default=""
room_id text nullable=NO default=""
stream_pos bigint nullable=NO default=""
depth bigint nullable=NO default=""
type text nullable=NO default=""
state_key text nullable=YES default=""
sender text nullable=NO default=""
membership text nullable=YES default=""
origin_server_ts bigint nullable=NO default=""
state_before bigint nullable=NO default=""
replaces_state text nullable=YES default=""
txn_device text nullable=YES default=""
txn_id text nullable=YES default=""
redacted_by text nullable=YES default=""
pdu bytea nullable=NO default=""

-- table fallback_keys
user_id text nullable=NO default=""
device_id text nullable=NO default=""
algorithm text nullable=NO default=""
key_id text nullable=NO default=""
key_json text nullable=NO default=""
used boolean nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table filters
user_id text nullable=NO default=""
filter_id bigint nullable=NO default=""
filter_json text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table forgotten_rooms
user_id text nullable=NO default=""
room_id text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table forward_extremities
room_id text nullable=NO default=""
event_id text nullable=NO default=""

-- table key_backup_sessions
user_id text nullable=NO default=""
version bigint nullable=NO default=""
room_id text nullable=NO default=""
session_id text nullable=NO default=""
first_message_index bigint nullable=NO default=""
forwarded_count bigint nullable=NO default=""
is_verified boolean nullable=NO default=""
session_data text nullable=NO default=""
updated_ts bigint nullable=NO default=""

-- table key_backup_users
user_id text nullable=NO default=""
last_version bigint nullable=NO default=""

-- table key_backup_versions
user_id text nullable=NO default=""
version bigint nullable=NO default=""
algorithm text nullable=NO default=""
auth_data text nullable=NO default=""
etag bigint nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table key_signatures
target_user_id text nullable=NO default=""
target_key_id text nullable=NO default=""
signer_user_id text nullable=NO default=""
signer_key_id text nullable=NO default=""
signature text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table login_tokens
token_hash text nullable=NO default=""
user_id text nullable=NO default=""
expires_ts bigint nullable=NO default=""

-- table media
server_name text nullable=NO default=""
media_id text nullable=NO default=""
content_hash text nullable=NO default=""
size bigint nullable=NO default=""
content_type text nullable=NO default=""
upload_name text nullable=NO default=""
uploader text nullable=NO default=""
created_ts bigint nullable=NO default=""
last_access_ts bigint nullable=NO default=""
quarantined boolean nullable=NO default=""
pending_expires_ts bigint nullable=NO default=""
legacy_visible boolean nullable=NO default=""
remote boolean nullable=NO default="false"

-- table media_content
content_hash text nullable=NO default=""
size bigint nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table media_references
server_name text nullable=NO default=""
media_id text nullable=NO default=""
room_id text nullable=NO default=""
event_id text nullable=NO default=""

-- table media_thumbnails
server_name text nullable=NO default=""
media_id text nullable=NO default=""
width integer nullable=NO default=""
height integer nullable=NO default=""
method text nullable=NO default=""
animated boolean nullable=NO default=""
content_hash text nullable=NO default=""
content_type text nullable=NO default=""
size bigint nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table migration_channels
network text nullable=NO default=""
workspace text nullable=NO default=""
channel_id text nullable=NO default=""
name text nullable=NO default=""
state text nullable=NO default=""
previous_state text nullable=NO default=""
history_room_id text nullable=NO default=""
history_before bigint nullable=NO default=""
messages_imported bigint nullable=NO default=""
messages_failed bigint nullable=NO default=""
files_missing bigint nullable=NO default=""
notice_ts text nullable=NO default=""
updated_ts bigint nullable=NO default=""

-- table migration_jobs
id text nullable=NO default=""
kind text nullable=NO default=""
params text nullable=NO default=""
state text nullable=NO default=""
progress text nullable=NO default=""
report text nullable=NO default=""
error text nullable=NO default=""
created_ts bigint nullable=NO default=""
updated_ts bigint nullable=NO default=""

-- table one_time_keys
user_id text nullable=NO default=""
device_id text nullable=NO default=""
algorithm text nullable=NO default=""
key_id text nullable=NO default=""
key_json text nullable=NO default=""
upload_seq bigint nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table openid_tokens
token_hash text nullable=NO default=""
user_id text nullable=NO default=""
expires_ts bigint nullable=NO default=""

-- table presence
user_id text nullable=NO default=""
state text nullable=NO default=""
status_msg text nullable=NO default=""
last_active_ts bigint nullable=NO default=""
currently_active boolean nullable=NO default=""
stream_pos bigint nullable=NO default=""
updated_ts bigint nullable=NO default=""

-- table push_actions
user_id text nullable=NO default=""
room_id text nullable=NO default=""
event_id text nullable=NO default=""
stream_pos bigint nullable=NO default=""
thread_id text nullable=NO default=""
highlight boolean nullable=NO default=""
actions text nullable=NO default=""
ts bigint nullable=NO default=""

-- table pushers
user_id text nullable=NO default=""
app_id text nullable=NO default=""
pushkey text nullable=NO default=""
device_id text nullable=NO default=""
kind text nullable=NO default=""
app_display_name text nullable=NO default=""
device_display_name text nullable=NO default=""
profile_tag text nullable=NO default=""
lang text nullable=NO default=""
data text nullable=NO default=""
created_ts bigint nullable=NO default=""
delivered_pos bigint nullable=NO default=""
failing_since bigint nullable=NO default=""

-- table receipts
room_id text nullable=NO default=""
user_id text nullable=NO default=""
receipt_type text nullable=NO default=""
thread_id text nullable=NO default=""
event_id text nullable=NO default=""
event_pos bigint nullable=NO default=""
ts bigint nullable=NO default=""
stream_pos bigint nullable=NO default=""

-- table refresh_tokens
token_hash text nullable=NO default=""
user_id text nullable=NO default=""
device_id text nullable=NO default=""
next_token_hash text nullable=YES default=""
created_ts bigint nullable=NO default=""

-- table registration_tokens
token text nullable=NO default=""
uses_allowed bigint nullable=YES default=""
pending bigint nullable=NO default="0"
completed bigint nullable=NO default="0"
expiry_ts bigint nullable=YES default=""
created_ts bigint nullable=NO default=""

-- table reports
report_id bigint nullable=NO default=""
kind text nullable=NO default=""
reporter text nullable=NO default=""
room_id text nullable=NO default=""
event_id text nullable=NO default=""
user_id text nullable=NO default=""
reason text nullable=NO default=""
received_ts bigint nullable=NO default=""

-- table room_aliases
alias text nullable=NO default=""
room_id text nullable=NO default=""
creator text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table room_directory_networks
instance_id text nullable=NO default=""
room_id text nullable=NO default=""
appservice_id text nullable=NO default=""
network_id text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table rooms
room_id text nullable=NO default=""
room_version text nullable=NO default=""
creator text nullable=NO default=""
is_public boolean nullable=NO default="false"
state_snapshot bigint nullable=NO default="0"
created_ts bigint nullable=NO default=""

-- table schema_migrations
owner text nullable=NO default=""
version bigint nullable=NO default=""
name text nullable=NO default=""
applied_ts bigint nullable=NO default=""

-- table sent_read_positions
user_id text nullable=NO default=""
room_id text nullable=NO default=""
thread_id text nullable=NO default=""
stream_pos bigint nullable=NO default=""

-- table state_snapshot_entries
snapshot_id bigint nullable=NO default=""
type text nullable=NO default=""
state_key text nullable=NO default=""
event_id text nullable=YES default=""

-- table state_snapshots
snapshot_id bigint nullable=NO default=""
room_id text nullable=NO default=""
parent_id bigint nullable=NO default=""
base_id bigint nullable=NO default=""
seq bigint nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table to_device_messages
user_id text nullable=NO default=""
device_id text nullable=NO default=""
stream_pos bigint nullable=NO default=""
sender text nullable=NO default=""
type text nullable=NO default=""
content text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table to_device_outbox
destination text nullable=NO default=""
stream_pos bigint nullable=NO default=""
content text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table to_device_txns
user_id text nullable=NO default=""
device_id text nullable=NO default=""
event_type text nullable=NO default=""
txn_id text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table transaction_ids
user_id text nullable=NO default=""
device_id text nullable=NO default=""
txn_id text nullable=NO default=""
event_id text nullable=NO default=""
created_ts bigint nullable=NO default=""

-- table uia_sessions
session_id text nullable=NO default=""
user_id text nullable=NO default="''::text"
request_hash text nullable=NO default=""
completed text nullable=NO default="'[]'::text"
registration_token text nullable=YES default=""
created_ts bigint nullable=NO default=""

-- table url_previews
url text nullable=NO default=""
properties text nullable=NO default=""
fetched_ts bigint nullable=NO default=""
expires_ts bigint nullable=NO default=""

-- table users
user_id text nullable=NO default=""
password_hash text nullable=YES default=""
is_admin boolean nullable=NO default="false"
is_guest boolean nullable=NO default="false"
deactivated boolean nullable=NO default="false"
appservice_id text nullable=YES default=""
displayname text nullable=YES default=""
avatar_url text nullable=YES default=""
created_ts bigint nullable=NO default=""
locked boolean nullable=NO default="false"
suspended boolean nullable=NO default="false"

-- sequences
state_snapshot_ids

-- indexes
CREATE INDEX access_tokens_device ON public.access_tokens USING btree (user_id, device_id)
CREATE UNIQUE INDEX access_tokens_pkey ON public.access_tokens USING btree (token_hash)
CREATE INDEX access_tokens_refresh ON public.access_tokens USING btree (refresh_token_hash)
CREATE UNIQUE INDEX account_data_pkey ON public.account_data USING btree (user_id, room_id, type)
CREATE INDEX account_data_stream ON public.account_data USING btree (user_id, stream_pos)
CREATE UNIQUE INDEX appservice_grants_pkey ON public.appservice_grants USING btree (user_id, appservice_id)
CREATE UNIQUE INDEX appservice_streams_pkey ON public.appservice_streams USING btree (appservice_id)
CREATE UNIQUE INDEX appservice_txns_pkey ON public.appservice_txns USING btree (appservice_id)
CREATE UNIQUE INDEX bridge_ghosts_pkey ON public.bridge_ghosts USING btree (network, workspace, remote_id)
CREATE UNIQUE INDEX bridge_logins_pkey ON public.bridge_logins USING btree (network, workspace, user_id)
CREATE UNIQUE INDEX bridge_logins_remote ON public.bridge_logins USING btree (network, workspace, remote_id)
CREATE UNIQUE INDEX bridge_matrix_activity_pkey ON public.bridge_matrix_activity USING btree (network, workspace, week_ts, user_id)
CREATE INDEX bridge_messages_created ON public.bridge_messages USING btree (created_ts)
CREATE UNIQUE INDEX bridge_messages_event ON public.bridge_messages USING btree (event_id)
CREATE INDEX bridge_messages_order ON public.bridge_messages USING btree (network, workspace, channel_id, sort_key)
CREATE UNIQUE INDEX bridge_messages_pkey ON public.bridge_messages USING btree (network, workspace, channel_id, remote_id, part)
CREATE UNIQUE INDEX bridge_portals_pkey ON public.bridge_portals USING btree (network, workspace, channel_id)
CREATE UNIQUE INDEX bridge_portals_room ON public.bridge_portals USING btree (room_id)
CREATE UNIQUE INDEX bridge_reactions_event ON public.bridge_reactions USING btree (event_id)
CREATE UNIQUE INDEX bridge_reactions_pkey ON public.bridge_reactions USING btree (network, workspace, channel_id, message_id, remote_user_id, emoji)
CREATE UNIQUE INDEX bridge_secrets_pkey ON public.bridge_secrets USING btree (name)
CREATE UNIQUE INDEX bridge_spaces_pkey ON public.bridge_spaces USING btree (network, workspace)
CREATE UNIQUE INDEX counters_pkey ON public.counters USING btree (name)
CREATE UNIQUE INDEX cross_signing_keys_pkey ON public.cross_signing_keys USING btree (user_id, key_type)
CREATE INDEX current_state_member ON public.current_state USING btree (state_key, membership) WHERE (type = 'm.room.member'::text)
CREATE UNIQUE INDEX current_state_pkey ON public.current_state USING btree (room_id, type, state_key)
CREATE UNIQUE INDEX dehydrated_devices_pkey ON public.dehydrated_devices USING btree (user_id)
CREATE UNIQUE INDEX device_keys_pkey ON public.device_keys USING btree (user_id, device_id)
CREATE UNIQUE INDEX device_list_changes_pkey ON public.device_list_changes USING btree (stream_pos)
CREATE INDEX device_list_changes_ts ON public.device_list_changes USING btree (ts)
CREATE INDEX device_list_changes_user ON public.device_list_changes USING btree (user_id, stream_pos)
CREATE UNIQUE INDEX devices_pkey ON public.devices USING btree (user_id, device_id)
CREATE INDEX event_relations_parent ON public.event_relations USING btree (relates_to, stream_pos)
CREATE UNIQUE INDEX event_relations_pkey ON public.event_relations USING btree (event_id)
CREATE INDEX event_relations_room ON public.event_relations USING btree (room_id, rel_type, stream_pos)
CREATE UNIQUE INDEX event_search_pkey ON public.event_search USING btree (event_id)
CREATE INDEX event_search_room ON public.event_search USING btree (room_id, stream_pos)
CREATE UNIQUE INDEX event_search_stream_pos_key ON public.event_search USING btree (stream_pos)
CREATE INDEX event_search_vector ON public.event_search USING gin (vector)
CREATE INDEX events_membership ON public.events USING btree (state_key, stream_pos) WHERE (type = 'm.room.member'::text)
CREATE UNIQUE INDEX events_pkey ON public.events USING btree (event_id)
CREATE INDEX events_room_stream ON public.events USING btree (room_id, stream_pos)
CREATE INDEX events_room_topo ON public.events USING btree (room_id, depth, stream_pos)
CREATE INDEX events_room_ts ON public.events USING btree (room_id, origin_server_ts)
CREATE UNIQUE INDEX events_stream_pos_key ON public.events USING btree (stream_pos)
CREATE UNIQUE INDEX fallback_keys_pkey ON public.fallback_keys USING btree (user_id, device_id, algorithm)
CREATE UNIQUE INDEX filters_pkey ON public.filters USING btree (user_id, filter_id)
CREATE UNIQUE INDEX forgotten_rooms_pkey ON public.forgotten_rooms USING btree (user_id, room_id)
CREATE UNIQUE INDEX forward_extremities_pkey ON public.forward_extremities USING btree (room_id, event_id)
CREATE UNIQUE INDEX key_backup_sessions_pkey ON public.key_backup_sessions USING btree (user_id, version, room_id, session_id)
CREATE UNIQUE INDEX key_backup_users_pkey ON public.key_backup_users USING btree (user_id)
CREATE UNIQUE INDEX key_backup_versions_pkey ON public.key_backup_versions USING btree (user_id, version)
CREATE UNIQUE INDEX key_signatures_pkey ON public.key_signatures USING btree (target_user_id, target_key_id, signer_user_id, signer_key_id)
CREATE INDEX login_tokens_expiry ON public.login_tokens USING btree (expires_ts)
CREATE UNIQUE INDEX login_tokens_pkey ON public.login_tokens USING btree (token_hash)
CREATE INDEX media_content_hash ON public.media USING btree (content_hash)
CREATE UNIQUE INDEX media_content_pkey ON public.media_content USING btree (content_hash)
CREATE INDEX media_last_access ON public.media USING btree (last_access_ts)
CREATE UNIQUE INDEX media_pkey ON public.media USING btree (server_name, media_id)
CREATE UNIQUE INDEX media_references_pkey ON public.media_references USING btree (server_name, media_id, event_id)
CREATE INDEX media_references_room ON public.media_references USING btree (room_id)
CREATE INDEX media_remote_last_access ON public.media USING btree (remote, last_access_ts)
CREATE INDEX media_thumbnails_content_hash ON public.media_thumbnails USING btree (content_hash)
CREATE UNIQUE INDEX media_thumbnails_pkey ON public.media_thumbnails USING btree (server_name, media_id, width, height, method, animated)
CREATE INDEX media_uploader ON public.media USING btree (uploader)
CREATE UNIQUE INDEX migration_channels_pkey ON public.migration_channels USING btree (network, workspace, channel_id)
CREATE UNIQUE INDEX migration_jobs_pkey ON public.migration_jobs USING btree (id)
CREATE INDEX migration_jobs_updated ON public.migration_jobs USING btree (updated_ts)
CREATE INDEX one_time_keys_claim ON public.one_time_keys USING btree (user_id, device_id, algorithm, upload_seq)
CREATE UNIQUE INDEX one_time_keys_pkey ON public.one_time_keys USING btree (user_id, device_id, algorithm, key_id)
CREATE INDEX openid_tokens_expiry ON public.openid_tokens USING btree (expires_ts)
CREATE UNIQUE INDEX openid_tokens_pkey ON public.openid_tokens USING btree (token_hash)
CREATE UNIQUE INDEX presence_pkey ON public.presence USING btree (user_id)
CREATE INDEX presence_stream ON public.presence USING btree (stream_pos)
CREATE INDEX push_actions_event ON public.push_actions USING btree (event_id)
CREATE UNIQUE INDEX push_actions_pkey ON public.push_actions USING btree (user_id, stream_pos)
CREATE INDEX push_actions_room ON public.push_actions USING btree (user_id, room_id, stream_pos)
CREATE INDEX push_actions_ts ON public.push_actions USING btree (ts)
CREATE INDEX pushers_app_pushkey ON public.pushers USING btree (app_id, pushkey)
CREATE UNIQUE INDEX pushers_pkey ON public.pushers USING btree (user_id, app_id, pushkey)
CREATE UNIQUE INDEX receipts_pkey ON public.receipts USING btree (room_id, user_id, receipt_type, thread_id)
CREATE INDEX receipts_room_stream ON public.receipts USING btree (room_id, stream_pos)
CREATE INDEX receipts_stream ON public.receipts USING btree (stream_pos)
CREATE INDEX refresh_tokens_device ON public.refresh_tokens USING btree (user_id, device_id)
CREATE INDEX refresh_tokens_next ON public.refresh_tokens USING btree (next_token_hash)
CREATE UNIQUE INDEX refresh_tokens_pkey ON public.refresh_tokens USING btree (token_hash)
CREATE UNIQUE INDEX registration_tokens_pkey ON public.registration_tokens USING btree (token)
CREATE UNIQUE INDEX reports_pkey ON public.reports USING btree (report_id)
CREATE INDEX reports_received ON public.reports USING btree (received_ts)
CREATE UNIQUE INDEX room_aliases_pkey ON public.room_aliases USING btree (alias)
CREATE INDEX room_aliases_room ON public.room_aliases USING btree (room_id)
CREATE UNIQUE INDEX room_directory_networks_pkey ON public.room_directory_networks USING btree (instance_id, room_id)
CREATE INDEX room_directory_networks_room ON public.room_directory_networks USING btree (room_id)
CREATE UNIQUE INDEX rooms_pkey ON public.rooms USING btree (room_id)
CREATE INDEX rooms_public ON public.rooms USING btree (room_id) WHERE is_public
CREATE UNIQUE INDEX schema_migrations_pkey ON public.schema_migrations USING btree (owner, version)
CREATE UNIQUE INDEX sent_read_positions_pkey ON public.sent_read_positions USING btree (user_id, room_id, thread_id)
CREATE UNIQUE INDEX state_snapshot_entries_pkey ON public.state_snapshot_entries USING btree (snapshot_id, type, state_key)
CREATE UNIQUE INDEX state_snapshots_pkey ON public.state_snapshots USING btree (snapshot_id)
CREATE INDEX state_snapshots_room ON public.state_snapshots USING btree (room_id)
CREATE UNIQUE INDEX to_device_messages_pkey ON public.to_device_messages USING btree (user_id, device_id, stream_pos)
CREATE INDEX to_device_messages_pos ON public.to_device_messages USING btree (stream_pos)
CREATE INDEX to_device_messages_ts ON public.to_device_messages USING btree (created_ts)
CREATE UNIQUE INDEX to_device_outbox_pkey ON public.to_device_outbox USING btree (destination, stream_pos)
CREATE INDEX to_device_outbox_ts ON public.to_device_outbox USING btree (created_ts)
CREATE UNIQUE INDEX to_device_txns_pkey ON public.to_device_txns USING btree (user_id, device_id, event_type, txn_id)
CREATE INDEX to_device_txns_ts ON public.to_device_txns USING btree (created_ts)
CREATE UNIQUE INDEX transaction_ids_pkey ON public.transaction_ids USING btree (user_id, device_id, txn_id)
CREATE UNIQUE INDEX uia_sessions_pkey ON public.uia_sessions USING btree (session_id)
CREATE INDEX url_previews_expires ON public.url_previews USING btree (expires_ts)
CREATE UNIQUE INDEX url_previews_pkey ON public.url_previews USING btree (url)
CREATE INDEX users_appservice ON public.users USING btree (appservice_id) WHERE (appservice_id IS NOT NULL)
CREATE UNIQUE INDEX users_pkey ON public.users USING btree (user_id)
