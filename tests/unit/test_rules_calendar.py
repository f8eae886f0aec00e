"""Open instants (SPEC §4): send days, the local window, begin/end and DST, by hand and by brute force."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from seqflow.domain.durations import Duration
from seqflow.rules.calendar import Gates, add_duration, is_open, next_open

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
WEEKDAYS = frozenset(range(5))
H = 3600


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def office(begin: datetime = LONG_AGO, end: datetime | None = None) -> Gates:
    """Mon–Fri 08:00–17:00 in New York."""
    return Gates(tz=NY, begin=begin, end=end, days=WEEKDAYS, start=8 * H, stop=17 * H)


# ---- send days and the window ---------------------------------------------------------------


def test_an_instant_inside_a_weekday_window_is_its_own_next_open() -> None:
    # Tue 2026-12-01 10:15 EST = 15:15Z, inside 08:00–17:00
    t = utc(2026, 12, 1, 15, 15)
    assert is_open(office(), t)
    assert next_open(office(), t) == t


def test_an_instant_before_the_window_opens_at_start_that_morning() -> None:
    # Tue 06:00 EST = 11:00Z → 08:00 EST = 13:00Z the same day
    assert next_open(office(), utc(2026, 12, 1, 11)) == utc(2026, 12, 1, 13)


def test_an_instant_after_the_window_opens_the_next_morning() -> None:
    # Tue 18:30 EST = 23:30Z → Wed 08:00 EST = 13:00Z
    assert next_open(office(), utc(2026, 12, 1, 23, 30)) == utc(2026, 12, 2, 13)


def test_friday_evening_opens_on_monday_morning() -> None:
    # Fri 2026-12-04 17:30 EST = 22:30Z; Sat and Sun are not send days → Mon 12-07 08:00 EST = 13:00Z
    assert next_open(office(), utc(2026, 12, 4, 22, 30)) == utc(2026, 12, 7, 13)


def test_a_saturday_noon_is_closed_even_inside_the_window_hours() -> None:
    # Sat 2026-12-05 12:00 EST = 17:00Z
    assert not is_open(office(), utc(2026, 12, 5, 17))


def test_stop_is_exclusive_so_the_window_ends_at_stop_exactly() -> None:
    # Tue 16:59:59 EST is open; 17:00:00 EST (22:00Z) is not → Wed 08:00 EST
    assert is_open(office(), utc(2026, 12, 1, 21, 59, 59))
    assert not is_open(office(), utc(2026, 12, 1, 22))
    assert next_open(office(), utc(2026, 12, 1, 22)) == utc(2026, 12, 2, 13)


def test_start_is_inclusive() -> None:
    assert is_open(office(), utc(2026, 12, 1, 13))
    assert not is_open(office(), utc(2026, 12, 1, 12, 59, 59))


# ---- begin and end -------------------------------------------------------------------------


def test_a_begin_in_the_future_opens_at_begin_when_begin_is_inside_the_window() -> None:
    # begin Thu 2026-12-03 10:00 EST = 15:00Z; asked on Tue
    g = office(begin=utc(2026, 12, 3, 15))
    assert not is_open(g, utc(2026, 12, 1, 15))
    assert next_open(g, utc(2026, 12, 1, 15)) == utc(2026, 12, 3, 15)


def test_a_begin_in_the_future_at_midnight_opens_at_start_that_day() -> None:
    # begin Thu 2026-12-03 00:00 EST = 05:00Z → 08:00 EST = 13:00Z
    g = office(begin=utc(2026, 12, 3, 5))
    assert next_open(g, utc(2026, 12, 1, 15)) == utc(2026, 12, 3, 13)


def test_end_reached_means_no_open_instant() -> None:
    g = office(end=utc(2026, 12, 2, 5))  # end = end of Tue 12-01 local
    assert next_open(g, utc(2026, 12, 2, 5)) is None
    assert next_open(g, utc(2026, 12, 1, 23)) is None  # after Tue's window, before end: nothing left
    assert not is_open(g, utc(2026, 12, 2, 13))


def test_end_is_exclusive() -> None:
    g = office(end=utc(2026, 12, 1, 16))  # Tue 11:00 EST
    assert is_open(g, utc(2026, 12, 1, 15, 59, 59))
    assert not is_open(g, utc(2026, 12, 1, 16))


# ---- DST -----------------------------------------------------------------------------------


def test_new_york_spring_forward_window_opens_at_three_edt() -> None:
    # SPEC example. Sun 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00Z; 02:30–03:30 opens at 03:00 EDT
    g = Gates(tz=NY, begin=utc(2026, 1, 1), start=2 * H + 1800, stop=3 * H + 1800)
    assert next_open(g, utc(2026, 3, 8, 5)) == utc(2026, 3, 8, 7)
    assert not is_open(g, utc(2026, 3, 8, 6, 59, 59))  # 01:59:59 EST
    assert is_open(g, utc(2026, 3, 8, 7, 29))  # 03:29 EDT
    assert not is_open(g, utc(2026, 3, 8, 7, 30))  # 03:30 EDT: stop


def test_berlin_spring_forward_window_opens_at_three_cest() -> None:
    # Sun 2026-03-29 (last Sunday of March): 02:00 CET jumps to 03:00 CEST at 01:00Z
    g = Gates(tz=BERLIN, begin=utc(2026, 1, 1), start=2 * H + 1800, stop=3 * H + 1800)
    assert next_open(g, utc(2026, 3, 28, 23)) == utc(2026, 3, 29, 1)
    assert not is_open(g, utc(2026, 3, 29, 0, 59))


def test_a_window_entirely_inside_the_spring_gap_skips_that_day() -> None:
    # 02:10–02:50 does not exist on 2026-03-08 in New York → Mon 03-09 02:10 EDT = 06:10Z
    g = Gates(tz=NY, begin=utc(2026, 1, 1), start=2 * H + 600, stop=2 * H + 3000)
    assert next_open(g, utc(2026, 3, 8, 5)) == utc(2026, 3, 9, 6, 10)


def test_new_york_fall_back_wall_time_is_open_both_times() -> None:
    # Sun 2026-11-01: 01:00 EDT = 05:00Z, 02:00 EDT → 01:00 EST at 06:00Z, 02:00 EST = 07:00Z
    g = Gates(tz=NY, begin=utc(2026, 1, 1), start=1 * H, stop=2 * H)
    assert is_open(g, utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    assert is_open(g, utc(2026, 11, 1, 6, 30))  # 01:30 EST
    assert not is_open(g, utc(2026, 11, 1, 7))  # 02:00 EST
    assert next_open(g, utc(2026, 11, 1, 4)) == utc(2026, 11, 1, 5)
    assert next_open(g, utc(2026, 11, 1, 6)) == utc(2026, 11, 1, 6)


def test_london_fall_back_wall_time_is_open_both_times() -> None:
    # Sun 2026-10-25: 01:00 BST = 00:00Z, 02:00 BST → 01:00 GMT at 01:00Z, 02:00 GMT = 02:00Z
    g = Gates(tz=LONDON, begin=utc(2026, 1, 1), start=1 * H, stop=2 * H)
    assert is_open(g, utc(2026, 10, 25, 0, 30))  # 01:30 BST
    assert is_open(g, utc(2026, 10, 25, 1, 30))  # 01:30 GMT
    assert not is_open(g, utc(2026, 10, 25, 2))
    assert next_open(g, utc(2026, 10, 24, 23, 59)) == utc(2026, 10, 25, 0)


def test_p1d_across_spring_forward_keeps_the_wall_time() -> None:
    # Sat 2026-03-07 12:00 EST = 17:00Z + P1D = Sun 12:00 EDT = 16:00Z: 23 h elapsed
    t = utc(2026, 3, 7, 17)
    later = add_duration(NY, t, Duration(days=1))
    assert later == utc(2026, 3, 8, 16)
    assert later - t == timedelta(hours=23)


def test_pt24h_across_spring_forward_is_24_elapsed_hours() -> None:
    # 17:00Z + 24 h = Sun 17:00Z = 13:00 EDT
    assert add_duration(NY, utc(2026, 3, 7, 17), Duration(hours=24)) == utc(2026, 3, 8, 17)


def test_p1d_across_fall_back_is_25_elapsed_hours() -> None:
    # Sat 2026-10-31 12:00 EDT = 16:00Z + P1D = Sun 12:00 EST = 17:00Z
    assert add_duration(NY, utc(2026, 10, 31, 16), Duration(days=1)) == utc(2026, 11, 1, 17)


def test_p1d_onto_a_nonexistent_wall_time_resolves_with_fold_zero() -> None:
    # Sat 02:30 EST = 07:30Z + P1D = Sun 02:30, which does not exist; fold=0 uses the offset before
    # the jump (EST, −5) → 07:30Z = 03:30 EDT
    later = add_duration(NY, utc(2026, 3, 7, 7, 30), Duration(days=1))
    assert later == utc(2026, 3, 8, 7, 30)
    expected = datetime.combine(date(2026, 3, 8), time(2, 30), tzinfo=NY).replace(fold=0)
    assert later == expected.astimezone(UTC)


def test_p1d_onto_an_ambiguous_wall_time_takes_the_first_one() -> None:
    # Sat 2026-10-31 01:30 EDT = 05:30Z + P1D = Sun 01:30, twice; fold=0 → 01:30 EDT = 05:30Z
    assert add_duration(NY, utc(2026, 10, 31, 5, 30), Duration(days=1)) == utc(2026, 11, 1, 5, 30)


def test_wall_days_come_first_then_elapsed_hours() -> None:
    # P1DT2H from Sat 12:00 EST: Sun 12:00 EDT (16:00Z), then +2 h = 18:00Z
    assert add_duration(NY, utc(2026, 3, 7, 17), Duration(days=1, hours=2)) == utc(2026, 3, 8, 18)


def test_a_zero_duration_is_the_same_instant() -> None:
    assert add_duration(NY, utc(2026, 3, 8, 7), Duration()) == utc(2026, 3, 8, 7)


# ---- properties ----------------------------------------------------------------------------

ZONES = [
    ZoneInfo(z)
    for z in ("America/New_York", "Europe/Berlin", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC")
]
ORIGIN = utc(2026, 1, 1)
SPAN_MINUTES = 2 * 365 * 24 * 60
# UTC instants of the DST changes in the range, so that many examples land near one.
TRANSITIONS = [
    utc(2026, 3, 8, 7), utc(2026, 11, 1, 6), utc(2027, 3, 14, 7), utc(2027, 11, 7, 6),  # New York
    utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2027, 3, 28, 1), utc(2027, 10, 31, 1),  # EU
    utc(2026, 4, 4, 16), utc(2026, 10, 3, 16), utc(2027, 4, 3, 16), utc(2027, 10, 2, 16),  # Sydney
]  # fmt: skip
SCAN = timedelta(days=16)
MINUTE = timedelta(minutes=1)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    if draw(st.booleans()):
        return ORIGIN + timedelta(minutes=draw(st.integers(0, SPAN_MINUTES)))
    near = draw(st.sampled_from(TRANSITIONS))
    return near + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)))


@st.composite
def gates_near(draw: st.DrawFn, t: datetime) -> Gates:
    start = draw(st.integers(0, 24 * 60 - 1))
    stop = draw(st.integers(start + 1, 24 * 60))
    begin = t + timedelta(minutes=draw(st.integers(-5 * 24 * 60, 5 * 24 * 60)))
    end = draw(st.none() | st.integers(1, 30 * 24 * 60).map(lambda m: begin + timedelta(minutes=m)))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return Gates(draw(st.sampled_from(ZONES)), begin, end, days, start * 60, stop * 60)


def brute_next_open(g: Gates, t: datetime) -> datetime | None:
    """Minute by minute for 16 days: every change of openness here happens on a whole minute."""
    probe = t
    while probe < t + SCAN:
        if is_open(g, probe):
            return probe
        probe += MINUTE
    return None


@st.composite
def cases(draw: st.DrawFn) -> tuple[Gates, datetime]:
    t = draw(instants())
    return draw(gates_near(t)), t


@settings(max_examples=150, deadline=None)
@given(cases())
def test_next_open_equals_a_minute_by_minute_scan(case: tuple[Gates, datetime]) -> None:
    # With begin ≤ t + 5 d and a non-empty set of days, an open instant exists within 13 days unless
    # the end comes first, so the 16-day scan finding nothing means there is none at all.
    g, t = case
    assert next_open(g, t) == brute_next_open(g, t)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_next_open_is_open_and_not_before_t(case: tuple[Gates, datetime]) -> None:
    g, t = case
    found = next_open(g, t)
    if found is not None:
        assert found >= t
        assert is_open(g, found)
        assert next_open(g, found) == found
