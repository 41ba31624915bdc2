ALTER TABLE operations DROP COLUMN claimed_by;
DROP TABLE operation_items;
