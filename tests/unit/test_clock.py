from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from seqflow.clock import FileClock, SystemClock, make_clock, set_file_clock


def test_system_clock_returns_an_aware_utc_instant() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_file_clock_reads_the_instant_written_to_its_file(file_clock: FileClock) -> None:
    assert file_clock.now() == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def test_file_clock_sees_every_update_even_when_set_in_quick_succession(file_clock: FileClock) -> None:
    start = file_clock.now()
    for minutes in range(1, 20):
        set_file_clock(file_clock.path, start + timedelta(minutes=minutes))
        assert file_clock.now() == start + timedelta(minutes=minutes)


def test_set_file_clock_stores_other_offsets_as_utc(tmp_path: Path) -> None:
    set_file_clock(tmp_path / "c", datetime(2026, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=2))))
    assert FileClock(tmp_path / "c").now() == datetime(2026, 1, 1, 7, 0, tzinfo=UTC)


def test_set_file_clock_refuses_a_naive_datetime(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        set_file_clock(tmp_path / "c", datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_make_clock_builds_a_file_clock_from_its_spec(file_clock: FileClock) -> None:
    clock = make_clock(f"file:{file_clock.path}")
    assert clock.now() == file_clock.now()


def test_make_clock_defaults_to_the_system_clock() -> None:
    assert isinstance(make_clock("system"), SystemClock)


def test_make_clock_rejects_an_unknown_spec() -> None:
    with pytest.raises(ValueError, match="unknown clock"):
        make_clock("ntp:pool")
