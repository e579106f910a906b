-- JavaScript clients (browsers, Swagger UI, Node) read JSON numbers as doubles: an id above
-- 2^53 - 1 comes back rounded, naming another event (4611686018427387905 reads as
-- 4611686018427388000). Ids the service assigns move from 2^62 up to 2^52 .. 2^53 - 1; clients
-- keep the ids below 2^52 (the API refuses larger ones from now on).
--
-- Ids already stored from 2^62 up (assigned by the older version) stay: a client was given
-- each of them, and the change feed and the dashboard's cursor order rows by (tx_id, id), which
-- renumbering inside a stored transaction would reorder. New ids start after any id a client
-- stored in the new range before it was reserved (those stay too), so the two never collide.
DO $$
DECLARE
    next_id BIGINT;
BEGIN
    SELECT greatest(4503599627370496, coalesce(max(id) + 1, 0)) INTO next_id
    FROM (
        SELECT max(id) AS id FROM events WHERE id BETWEEN 4503599627370496 AND 9007199254740991
        UNION ALL
        SELECT max(id) FROM retired_event_ids WHERE id BETWEEN 4503599627370496 AND 9007199254740991
    ) stored;
    EXECUTE format(
        'ALTER SEQUENCE events_assigned_id_seq MINVALUE 4503599627370496 MAXVALUE 9007199254740991 '
        'START WITH 4503599627370496 RESTART WITH %s',
        next_id
    );
END
$$;
