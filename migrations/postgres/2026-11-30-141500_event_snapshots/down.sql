DROP TABLE event_snapshots;
