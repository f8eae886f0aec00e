"""Pacing of provider calls: a call starts only when fewer than `count` calls could arrive in its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from seqflow.rules.pacing import MAX_PER, next_call_at

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_a_call_starts_at_once_while_the_window_has_room() -> None:
    assert next_call_at([ago(1), ago(2)], in_flight=0, count=3, per_seconds=10, now=NOW) == NOW


def test_a_full_window_waits_until_the_earliest_completion_is_per_seconds_old() -> None:
    ended = [ago(1), ago(4), ago(2)]
    assert next_call_at(ended, in_flight=0, count=3, per_seconds=10, now=NOW) == ago(4) + timedelta(seconds=10)


def test_completions_older_than_the_window_do_not_count() -> None:
    assert next_call_at([ago(10), ago(30), ago(1)], in_flight=0, count=2, per_seconds=10, now=NOW) == NOW


def test_a_completion_exactly_per_seconds_ago_has_left_the_half_open_window() -> None:
    assert next_call_at([ago(10)], in_flight=0, count=1, per_seconds=10, now=NOW) == NOW


def test_calls_in_flight_count_as_arrivals_still_to_come() -> None:
    assert next_call_at([ago(3)], in_flight=1, count=2, per_seconds=10, now=NOW) == ago(3) + timedelta(seconds=10)


def test_in_flight_calls_filling_the_limit_leave_no_known_instant() -> None:
    assert next_call_at([], in_flight=2, count=2, per_seconds=10, now=NOW) is None


def test_a_backlog_goes_out_at_the_limits_pace() -> None:
    """Replaying a backlog of 7 against a limit of 3 per 10 s, each call completing 0.5 s after it starts."""
    ended: list[datetime] = []
    starts = []
    t = NOW
    for _ in range(7):
        start = next_call_at(ended, in_flight=0, count=3, per_seconds=10, now=t)
        assert start is not None
        starts.append(start)
        ended.append(start + timedelta(milliseconds=500))
        t = start
    offsets = [(s - NOW).total_seconds() for s in starts]
    assert offsets == [0, 0, 0, 10.5, 10.5, 10.5, 21.0]


def test_an_absurdly_long_window_is_bounded_instead_of_overflowing() -> None:
    assert next_call_at([ago(1)], in_flight=0, count=1, per_seconds=2**63, now=NOW) == ago(1) + MAX_PER
