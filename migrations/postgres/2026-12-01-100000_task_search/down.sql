DROP INDEX tasks_search_idx;
ALTER TABLE tasks DROP COLUMN search_vector;
DROP FUNCTION task_search_tags(jsonb);
DROP FUNCTION task_search_words(text);
