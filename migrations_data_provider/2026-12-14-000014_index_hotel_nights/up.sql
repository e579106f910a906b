-- A hotel's stays, night by night in time order: what a night range filtered to a few hotels
-- reads (`GET /events?hotel_id=…&night_of_stay__gte=…`, and every night range of a key scoped
-- to its hotels). The night index (`events_night_timestamp_id`) only includes the hotel, so it
-- reads every hotel's entries of each night to find one hotel's: ~N times the work for a chain
-- of N hotels (BENCHMARKS.md, "Ingest at 30 M").
--
-- Built without holding writers back on a database that holds events already: the index is
-- declared on the partitioned table alone (a catalog change), small partitions get theirs here
-- (milliseconds of a lock each), and the larger ones are built by the service with CREATE INDEX
-- CONCURRENTLY and attached (src/data_provider/partition_indexes.rs), which a transaction like
-- this one cannot do. Until then those partitions answer through the night index, correctly and
-- more slowly. Partitions created later get the index as they are attached.
CREATE INDEX events_hotel_night_timestamp_id ON ONLY events
    (hotel_id, night_of_stay, event_timestamp, id) INCLUDE (status);

DO $$
DECLARE
    part TEXT;
    made TEXT;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'events'::regclass AND NOT i.inhdetachpending
           AND pg_relation_size(c.oid) < 64 * 1024 * 1024
    LOOP
        made := left(part, 40) || '_hotel_night';
        EXECUTE format('CREATE INDEX %I ON %I (hotel_id, night_of_stay, event_timestamp, id) '
                       'INCLUDE (status)', made, part);
        EXECUTE format('ALTER INDEX events_hotel_night_timestamp_id ATTACH PARTITION %I', made);
    END LOOP;
END
$$;
