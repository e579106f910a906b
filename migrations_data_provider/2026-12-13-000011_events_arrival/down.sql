ALTER TABLE events DROP CONSTRAINT events_legacy_arrival;
ALTER TABLE events DROP COLUMN arrival;
