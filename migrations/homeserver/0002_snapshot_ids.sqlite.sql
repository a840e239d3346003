-- 0002: nothing on SQLite: its single writer serialises transactions, so the state_snapshots
-- counter row cannot deadlock (PostgreSQL gets a sequence instead).
SELECT 1;
