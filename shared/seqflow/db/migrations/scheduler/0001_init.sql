-- Creates the scheduler service schema; tables come in later migrations.
CREATE SCHEMA IF NOT EXISTS {schema};
