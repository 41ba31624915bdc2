-- Sharing (issue 17). Who may see a project, and so its tasks, is the rows
-- of `project_members`: the owner is a member too, with role 'owner', so
-- there is one access path (src/access.rs).
CREATE TABLE project_members (
    project_id BLOB        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    BLOB        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT        NOT NULL,
    created_at INTEGER     NOT NULL,
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
    id          BLOB        PRIMARY KEY,
    project_id  BLOB        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email       TEXT        NOT NULL,
    role        TEXT        NOT NULL,
    invited_by  BLOB        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  BLOB        NOT NULL,
    created_at  INTEGER     NOT NULL,
    expires_at  INTEGER     NOT NULL,
    accepted_at INTEGER,
    declined_at INTEGER,
    revoked_at  INTEGER,
    CONSTRAINT invitations_role CHECK (role IN ('editor', 'viewer'))
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_project_idx ON invitations (project_id, created_at);
CREATE INDEX invitations_email_idx ON invitations (email, created_at);

-- Each project is its own change stream: `last_seq` is the highest `seq`
-- taken by a write to it or its tasks. A writer holds the project row from
-- its reservation to its commit. Existing rows keep the seq they had in
-- their owner's stream, so the counter starts where the owner's stood.
ALTER TABLE projects ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 1;
UPDATE projects SET last_seq = max(1, coalesce(
    (SELECT c.value FROM change_counters c WHERE c.owner_id = projects.owner_id), 1));
CREATE INDEX tasks_project_seq_idx ON tasks (project_id, seq);

-- A task that moved to another project leaves a mark in the old one's
-- stream, so that a member who can not see the new project drops it.
CREATE TABLE task_departures (
    project_id BLOB   NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    task_id    BLOB   NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (project_id, task_id)
);
CREATE INDEX task_departures_seq_idx ON task_departures (project_id, seq);

-- Who made and last changed a task, and who it is assigned to (a member).
ALTER TABLE tasks ADD COLUMN assignee_id BLOB REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN created_by BLOB REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN updated_by BLOB REFERENCES users (id) ON DELETE SET NULL;
UPDATE tasks SET created_by = owner_id, updated_by = owner_id;
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id, project_id) WHERE assignee_id IS NOT NULL;
