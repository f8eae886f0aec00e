"""Versioned SQL migrations, one schema per service, safe to run from concurrent replicas.

Files live in `migrations/<schema>/NNNN_name.sql` and write `{schema}` where the schema name goes, so a
`schema_prefix` can give each test its own fresh schemas. Each file runs in its own transaction and is
recorded in `<schema>.schema_migrations`; a session advisory lock per schema serialises replicas.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlparse

import asyncpg

SCHEMAS = ("scheduler", "dispatcher", "tasks", "rollup_sync")
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(schema: str) -> list[Migration]:
    """The migrations of one service schema, ordered by version."""
    folder = resources.files("seqflow.db") / "migrations" / schema
    found = [
        Migration(int(m.group(1)), entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if (m := _FILE.match(entry.name))
    ]
    return sorted(found, key=lambda mig: mig.version)


def render(sql: str, schema: str) -> str:
    return sql.replace("{schema}", quote_ident(schema))


def quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe schema name: {name!r}")
    return f'"{name}"'


async def migrate_schema(conn: asyncpg.Connection, base: str, schema_prefix: str = "") -> list[int]:
    """Apply pending migrations of `base` into schema `<prefix><base>`; returns versions applied."""
    schema = schema_prefix + base
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"seqflow.migrate.{schema}")
    try:
        await _ensure_ledger(conn, schema)
        done = {
            r["version"] for r in await conn.fetch(render("SELECT version FROM {schema}.schema_migrations", schema))
        }
        applied = []
        for mig in load_migrations(base):
            if mig.version not in done:
                await _apply(conn, schema, mig)
                applied.append(mig.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"seqflow.migrate.{schema}")


async def _ensure_ledger(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(render("CREATE SCHEMA IF NOT EXISTS {schema}", schema))
    await conn.execute(
        render(
            "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())",
            schema,
        )
    )


async def _apply(conn: asyncpg.Connection, schema: str, mig: Migration) -> None:
    async with conn.transaction():
        await conn.execute(render(mig.sql, schema))
        await conn.execute(
            render("INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)", schema),
            mig.version,
            mig.name,
        )


async def migrate_all(
    dsn: str, schemas: tuple[str, ...] | list[str] | None = None, schema_prefix: str = ""
) -> dict[str, list[int]]:
    """Migrate every service schema (or the given ones); returns the versions applied per schema."""
    conn = await asyncpg.connect(dsn)
    try:
        return {base: await migrate_schema(conn, base, schema_prefix) for base in schemas or SCHEMAS}
    finally:
        await conn.close()


async def drop_schemas(dsn: str, schema_prefix: str, schemas: tuple[str, ...] = SCHEMAS) -> None:
    """Drop the prefixed schemas (test clean-up)."""
    conn = await asyncpg.connect(dsn)
    try:
        for base in schemas:
            await conn.execute(render("DROP SCHEMA IF EXISTS {schema} CASCADE", schema_prefix + base))
    finally:
        await conn.close()


async def ensure_database(dsn: str) -> None:
    """Create the DSN's database if it does not exist (connects to the `postgres` database)."""
    name = urlparse(dsn).path.lstrip("/") or "postgres"
    conn = await asyncpg.connect(dsn, database="postgres")
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return
        with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a concurrent caller won the race
            await conn.execute(f"CREATE DATABASE {quote_db(name)}")
    finally:
        await conn.close()


def quote_db(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
