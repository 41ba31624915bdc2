DROP INDEX tasks_assignee_idx;
ALTER TABLE tasks DROP COLUMN updated_by;
ALTER TABLE tasks DROP COLUMN created_by;
ALTER TABLE tasks DROP COLUMN assignee_id;
DROP TABLE task_departures;
DROP INDEX tasks_project_seq_idx;
ALTER TABLE projects DROP COLUMN last_seq;
DROP TABLE invitations;
DROP TABLE project_members;
