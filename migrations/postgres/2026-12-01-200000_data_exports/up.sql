-- A user's data export (exportMyData, src/export/): an EXPORT_DATA
-- operation writes one part per batch (the JSON of that batch's tasks),
-- then, when it completes, the whole document; the parts are deleted then.
-- A document is kept until `expires_at` (24 hours) and pruned afterwards.
CREATE TABLE data_export_parts (
    operation_id uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    idx          integer NOT NULL,
    body         text NOT NULL,
    bytes        bigint NOT NULL,
    PRIMARY KEY (operation_id, idx)
);

CREATE TABLE data_exports (
    operation_id uuid PRIMARY KEY REFERENCES operations (id) ON DELETE CASCADE,
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    document     text NOT NULL,
    bytes        bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX data_exports_owner_idx ON data_exports (owner_id);
CREATE INDEX data_exports_expires_idx ON data_exports (expires_at);
