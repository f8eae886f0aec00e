import asyncpg

from seqflow.db.migrate import SCHEMAS, load_migrations, migrate_all


async def test_migrations_create_every_service_schema_under_the_prefix(pg_dsn: str, schema_prefix: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        rows = await conn.fetch(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE $1",
            schema_prefix + "%",
        )
    finally:
        await conn.close()
    assert sorted(r["schema_name"] for r in rows) == sorted(schema_prefix + s for s in SCHEMAS)


async def test_applying_migrations_twice_applies_nothing_the_second_time(pg_dsn: str, schema_prefix: str) -> None:
    assert await migrate_all(pg_dsn, schema_prefix=schema_prefix) == {s: [] for s in SCHEMAS}


async def test_each_applied_migration_is_recorded_in_the_schema_ledger(pg_dsn: str, schema_prefix: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        versions = await conn.fetch(f'SELECT version FROM "{schema_prefix}tasks".schema_migrations')
    finally:
        await conn.close()
    assert [r["version"] for r in versions] == [m.version for m in load_migrations("tasks")]


def test_migration_files_ship_as_package_data_for_every_schema() -> None:
    assert all(load_migrations(s)[0].version == 1 for s in SCHEMAS)
