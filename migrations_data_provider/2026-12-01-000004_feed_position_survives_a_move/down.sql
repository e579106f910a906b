ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT (pg_current_xact_id()::text::bigint);
DROP FUNCTION roompulse_feed_position();
DROP FUNCTION roompulse_feed_offset();
DROP TABLE feed_epochs;
