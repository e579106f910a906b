-- `roompulse retention --unsafe-ignore-sync --yes-lose-uncounted` may delete events the
-- dashboard never counted. Their ids are retired like the others (a stale cursor could call an
-- event uncounted that the dashboard has just counted), and flagged here, so that they can be
-- un-retired and loaded again from the archive (README, "Retention"): stored anew, they are
-- counted once; the counted ones in the same archive stay retired and are refused.
ALTER TABLE retired_event_ids ADD COLUMN uncounted BOOLEAN NOT NULL DEFAULT false;
