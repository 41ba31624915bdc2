DROP STATISTICS IF EXISTS tasks_project_owner;
