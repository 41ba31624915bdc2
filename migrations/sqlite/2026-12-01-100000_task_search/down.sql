DROP TRIGGER tasks_search_delete;
DROP TRIGGER tasks_search_update;
DROP TRIGGER tasks_search_insert;
DROP TABLE task_search;
DROP TABLE task_search_keys;
