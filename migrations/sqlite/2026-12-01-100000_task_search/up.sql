-- Full-text search of tasks (issue 19): an FTS5 index of each task's title,
-- description and tags (the tags as words separated by spaces), kept in
-- step with `tasks` by the triggers below, so every write (single, bulk,
-- sync, operations and their rollback, soft delete and restore, a cascade
-- from a deleted project or account) updates it in the same transaction.
--
-- A word is a run of letters and digits, compared without case; accents
-- count (remove_diacritics 0), as on PostgreSQL's `simple` configuration.
--
-- The index is keyed by `task_search_keys`, not by the task's rowid: a
-- table whose key is not an INTEGER PRIMARY KEY may have its rowids
-- renumbered by VACUUM, which would leave the index pointing elsewhere.
CREATE TABLE task_search_keys (
    id      INTEGER PRIMARY KEY,
    task_id BLOB NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE task_search USING fts5 (
    title,
    description,
    tags,
    tokenize = 'unicode61 remove_diacritics 0'
);

CREATE TRIGGER tasks_search_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_search_keys (task_id) VALUES (new.id);
    INSERT INTO task_search (rowid, title, description, tags)
    VALUES (
        (SELECT id FROM task_search_keys WHERE task_id = new.id),
        new.title,
        new.description,
        (SELECT group_concat(value, ' ') FROM json_each(new.tags))
    );
END;

-- Only when the text changed: a status or a due date leaves the index alone.
CREATE TRIGGER tasks_search_update AFTER UPDATE OF title, description, tags ON tasks
WHEN old.title IS NOT new.title
    OR old.description IS NOT new.description
    OR old.tags IS NOT new.tags
BEGIN
    UPDATE task_search
    SET title = new.title,
        description = new.description,
        tags = (SELECT group_concat(value, ' ') FROM json_each(new.tags))
    WHERE rowid = (SELECT id FROM task_search_keys WHERE task_id = new.id);
END;

CREATE TRIGGER tasks_search_delete AFTER DELETE ON tasks BEGIN
    DELETE FROM task_search
    WHERE rowid = (SELECT id FROM task_search_keys WHERE task_id = old.id);
    DELETE FROM task_search_keys WHERE task_id = old.id;
END;

-- The tasks already there.
INSERT INTO task_search_keys (task_id) SELECT id FROM tasks;
INSERT INTO task_search (rowid, title, description, tags)
SELECT k.id, t.title, t.description, (SELECT group_concat(value, ' ') FROM json_each(t.tags))
FROM task_search_keys k
JOIN tasks t ON t.id = k.task_id;
