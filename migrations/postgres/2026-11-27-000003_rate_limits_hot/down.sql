ALTER TABLE rate_limits RESET (fillfactor);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
