-- Change events too large for a notification (src/events/spool.rs): the
-- writing transaction stores the event here and notifies its id; every
-- instance's listener reads it back. Rows older than a few minutes are
-- pruned as later ones are written.
CREATE TABLE event_snapshots (
    id         uuid PRIMARY KEY,
    payload    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX event_snapshots_created_at ON event_snapshots (created_at);
