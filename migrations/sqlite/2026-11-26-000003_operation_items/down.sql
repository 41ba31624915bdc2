DROP INDEX operation_records_entity_idx;
ALTER TABLE operations DROP COLUMN claimed_by;
DROP TABLE operation_items;
