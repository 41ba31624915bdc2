DROP INDEX api_keys_revoked_idx;
DROP INDEX sessions_revoked_idx;
DROP TABLE rate_limits;
