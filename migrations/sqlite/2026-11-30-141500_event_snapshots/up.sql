-- Change events too large for a notification (src/events/spool.rs). Only
-- PostgreSQL uses it: on SQLite events never leave the process. Kept so
-- that both backends have the same schema.
CREATE TABLE event_snapshots (
    id         BLOB PRIMARY KEY,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX event_snapshots_created_at ON event_snapshots (created_at);
