DROP FUNCTION calendar_writers(TEXT, TEXT);
