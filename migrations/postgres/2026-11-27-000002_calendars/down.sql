DROP TABLE calendar_busy;
DROP TABLE calendar_connections;
