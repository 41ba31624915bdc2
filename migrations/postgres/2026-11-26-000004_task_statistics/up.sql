-- A task's owner is its project's owner. Without being told, the planner
-- takes `project_id = … AND owner_id = …` for two independent conditions,
-- expects about one row and intersects two bitmap scans, where one ordered
-- scan of the project's index cut at the page size is what a page of a
-- project's tasks needs. (PostgreSQL only: SQLite plans these queries well
-- without statistics.)
CREATE STATISTICS IF NOT EXISTS tasks_project_owner (dependencies) ON project_id, owner_id FROM tasks;
ANALYZE tasks;
