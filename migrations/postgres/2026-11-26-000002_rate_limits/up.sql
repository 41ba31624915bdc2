-- Rate-limit counters, shared by every instance: one row per bucket (for
-- example 'login:ip:203.0.113.9'), counting hits in a fixed window that
-- starts at the first hit after the previous window ended. Updated with one
-- atomic upsert per hit.
CREATE TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

-- Loading the revoked sessions at start reads recent revocations.
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX api_keys_revoked_idx ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;
