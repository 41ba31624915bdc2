-- Tasklane data model (PostgreSQL). The SQLite set mirrors it table for table.
-- Enumerations are small integers so that they sort in their natural order:
--   tasks.status    1 TODO, 2 IN_PROGRESS, 3 DONE
--   tasks.priority  1 LOW, 2 MEDIUM, 3 HIGH, 4 URGENT
-- `seq` values come from change_counters, one row per owner, bumped in the
-- writing transaction so that a reader never sees a gap fill in later.

CREATE TABLE users (
    id                uuid PRIMARY KEY,
    email             text NOT NULL,
    username          text,
    display_name      text NOT NULL,
    password_hash     text,
    email_verified_at timestamptz,
    is_active         boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_login_at     timestamptz,
    CONSTRAINT users_email_lower CHECK (email = lower(email))
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id    uuid NOT NULL,
    token_hash   bytea NOT NULL,
    device_name  text,
    user_agent   text,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    replaced_by  uuid REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_family_idx ON sessions (family_id);
CREATE INDEX sessions_replaced_by_idx ON sessions (replaced_by);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL,
    scopes       jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE UNIQUE INDEX api_keys_prefix_key ON api_keys (prefix);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at);

-- kind: 'verify_email' | 'reset_password' | 'magic_link'
CREATE TABLE one_time_tokens (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT one_time_tokens_kind CHECK (kind IN ('verify_email', 'reset_password', 'magic_link'))
);
CREATE UNIQUE INDEX one_time_tokens_hash_key ON one_time_tokens (token_hash);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, kind);

CREATE TABLE change_counters (
    owner_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    value    bigint NOT NULL DEFAULT 0
);

CREATE TABLE projects (
    id                 uuid PRIMARY KEY,
    owner_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text NOT NULL,
    description        text,
    archived_at        timestamptz,
    deleted_at         timestamptz,
    version            integer NOT NULL DEFAULT 1,
    seq                bigint NOT NULL,
    client_mutation_id text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX projects_owner_created_idx ON projects (owner_id, created_at, id);
CREATE INDEX projects_owner_updated_idx ON projects (owner_id, updated_at, id);
CREATE INDEX projects_owner_name_idx ON projects (owner_id, name, id);
CREATE INDEX projects_owner_seq_idx ON projects (owner_id, seq);
CREATE UNIQUE INDEX projects_client_mutation_key ON projects (owner_id, client_mutation_id)
    WHERE client_mutation_id IS NOT NULL;

CREATE TABLE tasks (
    id                 uuid PRIMARY KEY,
    project_id         uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    owner_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title              text NOT NULL,
    description        text,
    status             smallint NOT NULL DEFAULT 1,
    priority           smallint,
    tags               jsonb NOT NULL DEFAULT '[]',
    due_at             timestamptz,
    position           double precision,
    completed_at       timestamptz,
    deleted_at         timestamptz,
    version            integer NOT NULL DEFAULT 1,
    seq                bigint NOT NULL,
    client_id          text,
    client_mutation_id text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
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
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    status       text NOT NULL,
    dry_run      boolean NOT NULL DEFAULT false,
    params       jsonb NOT NULL,
    total        integer NOT NULL DEFAULT 0,
    processed    integer NOT NULL DEFAULT 0,
    skipped      integer NOT NULL DEFAULT 0,
    failed       integer NOT NULL DEFAULT 0,
    error        text,
    rollback_of  uuid REFERENCES operations (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    heartbeat_at timestamptz
);
CREATE INDEX operations_owner_created_idx ON operations (owner_id, created_at, id);
CREATE INDEX operations_status_heartbeat_idx ON operations (status, heartbeat_at);

CREATE TABLE operation_records (
    operation_id uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    entity_type  text NOT NULL,
    entity_id    uuid NOT NULL,
    action       text NOT NULL,
    before       jsonb,
    after        jsonb,
    PRIMARY KEY (operation_id, seq)
);
