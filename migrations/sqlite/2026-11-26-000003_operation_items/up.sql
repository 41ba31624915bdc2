-- The items of an operation, fixed when it starts: the worker walks them in
-- `idx` order, and `processed + skipped + failed` (committed with each
-- batch) is where a resumed run continues.
CREATE TABLE operation_items (
    operation_id BLOB NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    BLOB NOT NULL,
    PRIMARY KEY (operation_id, idx)
);

-- The worker (instance) that holds a running operation; another one takes
-- it over once `heartbeat_at` is stale.
ALTER TABLE operations ADD COLUMN claimed_by BLOB;

-- A rollback finds the original's record of each object it restores.
CREATE INDEX operation_records_entity_idx ON operation_records (operation_id, entity_id);
