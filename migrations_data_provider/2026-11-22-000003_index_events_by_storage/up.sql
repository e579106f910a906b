-- GET /events?order=stored pages by (tx_id, id): the dashboard's change feed. Without this
-- index every page would sort the whole table.
CREATE INDEX events_tx_id_id ON events (tx_id, id);
