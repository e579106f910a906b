ALTER TABLE dashboard_pace DROP COLUMN running_bookings, DROP COLUMN running_cancellations;
