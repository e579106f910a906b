-- Back to assigning from 2^62, after every id stored there.
DO $$
DECLARE
    next_id BIGINT;
BEGIN
    SELECT greatest(4611686018427387904, coalesce(max(id) + 1, 0)) INTO next_id
    FROM events WHERE id >= 4611686018427387904;
    EXECUTE format(
        'ALTER SEQUENCE events_assigned_id_seq MAXVALUE 9223372036854775807 '
        'START WITH 4611686018427387904 RESTART WITH %s MINVALUE 4611686018427387904',
        next_id
    );
END
$$;
