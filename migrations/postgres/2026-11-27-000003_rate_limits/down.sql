ALTER TABLE rate_limits SET LOGGED;
ALTER TABLE rate_limits RESET (fillfactor);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
