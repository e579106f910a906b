-- Reads every row (arrival < 1 holds for all: they were stored with the default 0) under SHARE
-- UPDATE EXCLUSIVE, which lets inserts, updates and reads go on. In a migration of its own so
-- that the previous one's brief ACCESS EXCLUSIVE lock is released before this scan starts. The
-- validated check lets `partition_events_by_arrival` attach the table as a partition without
-- scanning it under its lock.
ALTER TABLE events VALIDATE CONSTRAINT events_legacy_arrival;
