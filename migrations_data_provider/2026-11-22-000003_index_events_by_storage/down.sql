DROP INDEX events_tx_id_id;
