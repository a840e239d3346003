-- 0002: state snapshot IDs from a sequence on PostgreSQL. Unlike stream positions they need no
-- commit order, and a counter row would be a second lock that transactions creating several
-- state events (room creation) take in the opposite order from single sends: a deadlock.
CREATE SEQUENCE state_snapshot_ids;
