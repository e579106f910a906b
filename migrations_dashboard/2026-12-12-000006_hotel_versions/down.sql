DROP TABLE dashboard_hotel_versions;
