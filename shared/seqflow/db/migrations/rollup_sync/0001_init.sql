-- Creates the rollup_sync service schema; tables come in later migrations.
CREATE SCHEMA IF NOT EXISTS {schema};
