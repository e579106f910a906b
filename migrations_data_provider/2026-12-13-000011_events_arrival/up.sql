-- The first step of partitioning the events table by arrival (docs/decisions/006): every stored
-- row gets arrival 0, the number of the partition range the existing table becomes in
-- `partition_events_by_arrival`. A constant default is kept in the catalog, not written into the
-- rows, so this takes the table's lock only for a moment however many rows it holds; the check
-- is added NOT VALID for the same reason and validated by the next migration without blocking
-- writers.
ALTER TABLE events ADD COLUMN arrival BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD CONSTRAINT events_legacy_arrival CHECK (arrival < 1) NOT VALID;
