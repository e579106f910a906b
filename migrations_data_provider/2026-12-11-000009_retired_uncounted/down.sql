ALTER TABLE retired_event_ids DROP COLUMN uncounted;
