-- Sharing (issue 17). Who may see a project, and so its tasks, is the rows
-- of `project_members`: the owner is a member too, with role 'owner', so
-- there is one access path (src/access.rs).
CREATE TABLE project_members (
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, user_id),
    CONSTRAINT project_members_role CHECK (role IN ('owner', 'editor', 'viewer'))
);
CREATE INDEX project_members_user_idx ON project_members (user_id, project_id, role);
CREATE UNIQUE INDEX project_members_one_owner ON project_members (project_id) WHERE role = 'owner';
INSERT INTO project_members (project_id, user_id, role, created_at)
    SELECT id, owner_id, 'owner', created_at FROM projects;

-- An invitation to a project, mailed as a single-use link: only the
-- SHA-256 of its token is kept. At most one of accepted/declined/revoked.
CREATE TABLE invitations (
    id          uuid        PRIMARY KEY,
    project_id  uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email       text        NOT NULL,
    role        text        NOT NULL,
    invited_by  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    declined_at timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT invitations_role CHECK (role IN ('editor', 'viewer'))
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_project_idx ON invitations (project_id, created_at);
CREATE INDEX invitations_email_idx ON invitations (email, created_at);

-- Each project is its own change stream: `last_seq` is the highest `seq`
-- taken by a write to it or its tasks. A writer holds the project row from
-- its reservation to its commit. Existing rows keep the seq they had in
-- their owner's stream, so the counter starts where the owner's stood.
ALTER TABLE projects ADD COLUMN last_seq bigint NOT NULL DEFAULT 1;
UPDATE projects p SET last_seq = GREATEST(1, c.value)
    FROM change_counters c WHERE c.owner_id = p.owner_id;
CREATE INDEX tasks_project_seq_idx ON tasks (project_id, seq);

-- A task that moved to another project leaves a mark in the old one's
-- stream, so that a member who can not see the new project drops it.
CREATE TABLE task_departures (
    project_id uuid   NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    task_id    uuid   NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    PRIMARY KEY (project_id, task_id)
);
CREATE INDEX task_departures_seq_idx ON task_departures (project_id, seq);

-- Who made and last changed a task, and who it is assigned to (a member).
ALTER TABLE tasks ADD COLUMN assignee_id uuid REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN created_by uuid REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN updated_by uuid REFERENCES users (id) ON DELETE SET NULL;
UPDATE tasks SET created_by = owner_id, updated_by = owner_id;
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id, project_id) WHERE assignee_id IS NOT NULL;
