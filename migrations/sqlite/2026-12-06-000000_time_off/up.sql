-- A provider's time off: it blocks every service of the provider like a
-- booking without buffers (see api.md, "Provider time off"). Ranges are unix
-- seconds, start < end, at most 366 days; a lookup around a range reads the
-- provider's rows that start before its end and end after its start.
CREATE TABLE time_off (
    seq         INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    id          TEXT      NOT NULL,
    account_id  TEXT      NOT NULL REFERENCES accounts (id),
    provider_id TEXT      NOT NULL,
    start_at    INTEGER    NOT NULL,
    end_at      INTEGER    NOT NULL,
    reason      TEXT,
    created_at  INTEGER    NOT NULL,
    CONSTRAINT time_off_range CHECK (start_at < end_at AND end_at - start_at <= 366 * 86400),
    CONSTRAINT time_off_account_id_key UNIQUE (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
CREATE INDEX time_off_provider ON time_off (account_id, provider_id, end_at);
