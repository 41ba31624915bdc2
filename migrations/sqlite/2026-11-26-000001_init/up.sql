-- Tasklane data model (SQLite). Mirrors the PostgreSQL set table for table:
-- uuid -> 16-byte BLOB, timestamptz -> INTEGER microseconds since the Unix
-- epoch (UTC, sorts in time order), jsonb -> TEXT holding JSON, bytea -> BLOB.
-- Enumerations are small INTEGERs so that they sort in their natural order:
--   tasks.status    1 TODO, 2 IN_PROGRESS, 3 DONE
--   tasks.priority  1 LOW, 2 MEDIUM, 3 HIGH, 4 URGENT
-- `seq` values come from change_counters, one row per owner, bumped in the
-- writing transaction so that a reader never sees a gap fill in later.

CREATE TABLE users (
    id                BLOB PRIMARY KEY,
    email             TEXT NOT NULL,
    username          TEXT,
    display_name      TEXT NOT NULL,
    password_hash     TEXT,
    email_verified_at INTEGER,
    is_active         INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_login_at     INTEGER,
    CONSTRAINT users_email_lower CHECK (email = lower(email))
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id    BLOB NOT NULL,
    token_hash   BLOB NOT NULL,
    device_name  TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    replaced_by  BLOB REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_family_idx ON sessions (family_id);
CREATE INDEX sessions_replaced_by_idx ON sessions (replaced_by);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     BLOB NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE UNIQUE INDEX api_keys_prefix_key ON api_keys (prefix);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at);

-- kind: 'verify_email' | 'reset_password' | 'magic_link'
CREATE TABLE one_time_tokens (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    CONSTRAINT one_time_tokens_kind CHECK (kind IN ('verify_email', 'reset_password', 'magic_link'))
);
CREATE UNIQUE INDEX one_time_tokens_hash_key ON one_time_tokens (token_hash);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, kind);

CREATE TABLE change_counters (
    owner_id BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    value    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE projects (
    id                 BLOB PRIMARY KEY,
    owner_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    description        TEXT,
    archived_at        INTEGER,
    deleted_at         INTEGER,
    version            INTEGER NOT NULL DEFAULT 1,
    seq                INTEGER NOT NULL,
    client_mutation_id TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX projects_owner_created_idx ON projects (owner_id, created_at, id);
CREATE INDEX projects_owner_updated_idx ON projects (owner_id, updated_at, id);
CREATE INDEX projects_owner_name_idx ON projects (owner_id, name, id);
CREATE INDEX projects_owner_seq_idx ON projects (owner_id, seq);
CREATE UNIQUE INDEX projects_client_mutation_key ON projects (owner_id, client_mutation_id)
    WHERE client_mutation_id IS NOT NULL;

CREATE TABLE tasks (
    id                 BLOB PRIMARY KEY,
    project_id         BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    owner_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title              TEXT NOT NULL,
    description        TEXT,
    status             INTEGER NOT NULL DEFAULT 1,
    priority           INTEGER,
    tags               TEXT NOT NULL DEFAULT '[]',
    due_at             INTEGER,
    position           REAL,
    completed_at       INTEGER,
    deleted_at         INTEGER,
    version            INTEGER NOT NULL DEFAULT 1,
    seq                INTEGER NOT NULL,
    client_id          TEXT,
    client_mutation_id TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    CONSTRAINT tasks_status_range CHECK (status BETWEEN 1 AND 3),
    CONSTRAINT tasks_priority_range CHECK (priority BETWEEN 1 AND 4)
);
CREATE INDEX tasks_project_created_idx ON tasks (project_id, created_at, id);
CREATE INDEX tasks_project_position_idx ON tasks (project_id, position, id);
CREATE INDEX tasks_owner_created_idx ON tasks (owner_id, created_at, id);
CREATE INDEX tasks_owner_updated_idx ON tasks (owner_id, updated_at, id);
CREATE INDEX tasks_owner_due_idx ON tasks (owner_id, due_at, id);
CREATE INDEX tasks_owner_status_idx ON tasks (owner_id, status);
CREATE INDEX tasks_owner_seq_idx ON tasks (owner_id, seq);
CREATE UNIQUE INDEX tasks_client_mutation_key ON tasks (owner_id, client_mutation_id)
    WHERE client_mutation_id IS NOT NULL;

-- kind: UPDATE_TASKS | DELETE_TASKS | ARCHIVE_PROJECT | DELETE_PROJECT | DEDUPLICATE_TASKS | IMPORT | ROLLBACK
-- status: PENDING | RUNNING | COMPLETED | FAILED | CANCELLED | ROLLED_BACK
CREATE TABLE operations (
    id           BLOB PRIMARY KEY,
    owner_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    dry_run      INTEGER NOT NULL DEFAULT 0,
    params       TEXT NOT NULL,
    total        INTEGER NOT NULL DEFAULT 0,
    processed    INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    rollback_of  BLOB REFERENCES operations (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    heartbeat_at INTEGER
);
CREATE INDEX operations_owner_created_idx ON operations (owner_id, created_at, id);
CREATE INDEX operations_status_heartbeat_idx ON operations (status, heartbeat_at);

CREATE TABLE operation_records (
    operation_id BLOB NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    BLOB NOT NULL,
    action       TEXT NOT NULL,
    before       TEXT,
    after        TEXT,
    PRIMARY KEY (operation_id, seq)
);
