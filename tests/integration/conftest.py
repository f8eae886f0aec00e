"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest


async def connected(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def conn(pg_dsn: str, schema_prefix: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test database, its schemas migrated under the test's prefix."""
    async for c in connected(pg_dsn):
        yield c


@pytest.fixture
async def other(pg_dsn: str, schema_prefix: str) -> AsyncIterator[asyncpg.Connection]:
    """A second connection: another replica's, or another transaction at the same time."""
    async for c in connected(pg_dsn):
        yield c
