DROP TABLE account_usage;
