DROP SEQUENCE events_assigned_id_seq;
DROP TABLE events;
