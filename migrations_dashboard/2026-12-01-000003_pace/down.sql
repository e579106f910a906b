DROP TABLE dashboard_pace;
