-- What each account stores, for the per-account quotas (src/quotas.rs).
-- Kept as running counts, raised in the transaction that creates the rows
-- (on SQLite there is one writer), so a check costs one row instead of a
-- count over up to 100,000 index entries per write. Nothing of an account
-- is ever deleted but the whole account, so the counts only grow (deleted
-- tasks are soft-deleted and still count).
CREATE TABLE account_usage (
    owner_id          BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    projects          INTEGER NOT NULL DEFAULT 0,
    tasks             INTEGER NOT NULL DEFAULT 0,
    operation_records INTEGER NOT NULL DEFAULT 0
);

INSERT INTO account_usage (owner_id, projects, tasks, operation_records)
SELECT u.id,
       (SELECT count(*) FROM projects p WHERE p.owner_id = u.id),
       (SELECT count(*) FROM tasks t WHERE t.owner_id = u.id),
       (SELECT count(*) FROM operation_records r
          JOIN operations o ON o.id = r.operation_id WHERE o.owner_id = u.id)
FROM users u;
