DROP TABLE data_exports;
DROP TABLE data_export_parts;
