-- Rate-limit counters (see the PostgreSQL set): one row per bucket, hits in
-- a fixed window; window_start in microseconds since the epoch.
CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX api_keys_revoked_idx ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
