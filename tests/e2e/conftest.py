"""End-to-end fixtures: the four services as subprocesses on a fresh broker, schemas and clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.observe import clocked_stack

from seqflow.clock import set_file_clock
from seqflow.stack import Stack

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # a Tuesday, 09:00 in New York


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock"
    set_file_clock(path, T0)
    return path


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, clock_file: Path) -> Iterator[Stack]:
    """One stack per test, its file clock set to T0."""
    with clocked_stack(tmp_path, pg_dsn, clock_file) as s:
        yield s
