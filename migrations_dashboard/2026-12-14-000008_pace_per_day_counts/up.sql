-- Each row holds its event day's counts only: the sync adds a page's counts to the rows it
-- touches and rewrites no other row, whatever the order events come in. The running totals
-- the figures need are summed by the night book, which reads a hotel's rows whole
-- (docs/decisions/004-running-totals-for-pace.md). The per-day counts are what they were.
ALTER TABLE dashboard_pace DROP COLUMN running_bookings, DROP COLUMN running_cancellations;
-- The room left on each page for rewritten running totals is no longer needed.
ALTER TABLE dashboard_pace RESET (fillfactor);
