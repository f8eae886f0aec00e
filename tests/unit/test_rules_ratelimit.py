"""The sliding-window rate limit (SPEC §4): at most `count` grants in every interval (t − per, t]."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from seqflow.rules.ratelimit import SlidingWindow, Unlimited, window_violations

T0 = datetime(2026, 12, 1, 14, tzinfo=UTC)
HOUR = 3600


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_empty_window_grants_at_once() -> None:
    assert SlidingWindow(2, HOUR).available_at(T0) == T0


def test_a_window_below_its_count_grants_at_once() -> None:
    lim = SlidingWindow(2, HOUR)
    lim.grant(T0)
    assert lim.available_at(T0) == T0


def test_a_full_window_grants_when_the_oldest_grant_leaves_it() -> None:
    # grants at 0 and 10 s, 2 per hour: (t − 1 h, t] excludes 0 from t = 3600 s
    lim = SlidingWindow(2, HOUR)
    lim.grant(at(0))
    lim.grant(at(10))
    assert lim.available_at(at(20)) == at(HOUR)
    assert lim.available_at(at(HOUR + 5)) == at(HOUR + 5)


def test_the_interval_is_open_on_the_left() -> None:
    # a grant at 0 no longer counts at exactly 0 + per
    lim = SlidingWindow(1, 60)
    lim.grant(at(0))
    assert lim.available_at(at(59)) == at(60)
    assert window_violations([at(0), at(60)], 1, 60) == []
    assert window_violations([at(0), at(59)], 1, 60) == [at(59)]


def test_grants_given_at_construction_keep_holding() -> None:
    lim = SlidingWindow(2, HOUR, grants=[at(30), at(0), at(-7200)])
    assert lim.available_at(at(40)) == at(HOUR)


def test_unlimited_always_grants_at_once() -> None:
    lim = Unlimited()
    for _ in range(5):
        lim.grant(T0)
    assert lim.available_at(T0) == T0


def test_window_violations_names_each_grant_over_the_count() -> None:
    times = [at(0), at(1), at(2), at(HOUR + 1)]
    # (2 − 1 h, 2] holds three; (3601 − 3600, 3601] holds 2 and 3601 → two
    assert window_violations(times, 2, HOUR) == [at(2)]


def earliest_by_scan(granted: list[int], request: int, count: int, per: int) -> int:
    """The first whole second ≥ request whose (x − per, x] holds fewer than `count` grants."""
    x = request
    while sum(1 for g in granted if x - per < g <= x) >= count:
        x += 1
    return x


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(1, 5),
    per=st.integers(1, 120),
    requests=st.lists(st.integers(0, 600), min_size=1, max_size=25).map(sorted),
)
def test_grants_never_break_the_limit_and_each_is_the_earliest(count: int, per: int, requests: list[int]) -> None:
    lim = SlidingWindow(count, per)
    granted: list[int] = []
    for r in requests:
        # the limiter is asked at a time no earlier than every grant so far (it works as time goes on)
        asked = max([r, *granted])
        got = int((lim.available_at(at(asked)) - T0).total_seconds())
        assert got == earliest_by_scan(granted, asked, count, per)
        lim.grant(at(got))
        granted.append(got)
    assert window_violations([at(g) for g in granted], count, per) == []
