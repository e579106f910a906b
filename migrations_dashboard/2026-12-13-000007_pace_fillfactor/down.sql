ALTER TABLE dashboard_pace RESET (fillfactor);
