-- Full-text search of tasks (issue 19): a tsvector of each task's title
-- (label A), tags (B) and description (D), a generated column, so every
-- write (single, bulk, sync, operations and their rollback, soft delete and
-- restore) keeps it in step; a GIN index serves the searches.
--
-- A word is a run of letters and digits: everything else becomes a space
-- before the `simple` configuration (lower case, no stemming, accents kept)
-- reads the text, so both backends find the same words (SQLite's FTS5
-- `unicode61` tokenizer cuts at the same characters). Without this,
-- PostgreSQL's parser would keep `a@b.com` or `3.14` whole and skip what
-- looks like an XML tag.
CREATE FUNCTION task_search_words(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT regexp_replace($1, '[^[:alnum:]]+', ' ', 'g') $$;

-- The tags of a task (a JSON array of strings), separated by spaces.
CREATE FUNCTION task_search_tags(jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT coalesce(string_agg(value, ' '), '')
        FROM jsonb_array_elements_text(
            CASE WHEN jsonb_typeof($1) = 'array' THEN $1 ELSE '[]'::jsonb END)
    $$;

-- Adding the column computes it for the tasks already there.
ALTER TABLE tasks ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', task_search_words(title)), 'A')
    || setweight(to_tsvector('simple', task_search_words(task_search_tags(tags))), 'B')
    || setweight(to_tsvector('simple', task_search_words(coalesce(description, ''))), 'D')
) STORED;

CREATE INDEX tasks_search_idx ON tasks USING gin (search_vector);
