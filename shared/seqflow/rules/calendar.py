"""Open instants of a sequence (SPEC §4): begin/end, send days, the local send window, DST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from seqflow.domain.durations import Duration

ALL_DAYS = frozenset(range(7))
DAY = 86_400


@dataclass(frozen=True)
class Gates:
    """The static part of the open predicate; pauses are handled by the engine as they happen."""

    tz: ZoneInfo
    begin: datetime
    end: datetime | None = None
    days: frozenset[int] = ALL_DAYS
    start: int = 0  # seconds after local midnight, inclusive
    stop: int = DAY  # seconds after local midnight, exclusive


def _wall_seconds(local: datetime) -> int:
    return local.hour * 3600 + local.minute * 60 + local.second


def in_window(g: Gates, t: datetime) -> bool:
    """Days and window only: what a wall clock in the sequence timezone says about t."""
    local = t.astimezone(g.tz)
    return local.weekday() in g.days and g.start <= _wall_seconds(local) < g.stop


def is_open(g: Gates, t: datetime) -> bool:
    if t < g.begin or (g.end is not None and t >= g.end):
        return False
    return in_window(g, t)


def _resolve(tz: ZoneInfo, d: date, seconds: int, fold: int) -> datetime:
    wall = datetime.combine(d, time(), tzinfo=tz).replace(fold=fold) + timedelta(seconds=seconds)
    return wall.replace(fold=fold).astimezone(UTC)


def _transition_in(tz: ZoneInfo, lo: datetime, hi: datetime) -> datetime | None:
    """First whole second in (lo, hi] whose UTC offset differs from lo's, if the offset changes."""
    before = lo.astimezone(tz).utcoffset()
    if hi.astimezone(tz).utcoffset() == before:
        return None
    a, b = 0, int((hi - lo).total_seconds())
    while b - a > 1:
        mid = (a + b) // 2
        if (lo + timedelta(seconds=mid)).astimezone(tz).utcoffset() == before:
            a = mid
        else:
            b = mid
    return lo + timedelta(seconds=b)


@lru_cache(maxsize=4096)
def _day_candidates(tz: ZoneInfo, d: date, start: int) -> tuple[datetime, ...]:
    """Instants of local day d at which the window can open: start (both folds) and DST jumps."""
    found = {_resolve(tz, d, start, 0), _resolve(tz, d, start, 1)}
    lo = _resolve(tz, d, 0, 0) - timedelta(hours=3)
    jump = _transition_in(tz, lo, _resolve(tz, d + timedelta(days=1), 0, 0) + timedelta(hours=3))
    if jump is not None:
        found.add(jump)
    return tuple(sorted(found))


def next_open(g: Gates, t: datetime) -> datetime | None:
    """Earliest open instant at or after t; None when there is none before the end (SPEC §4)."""
    t = max(t, g.begin)
    if g.end is not None and t >= g.end:
        return None
    if in_window(g, t):
        return t
    first = t.astimezone(g.tz).date()
    best: datetime | None = None
    for offset in range(15):
        d = first + timedelta(days=offset)
        hits = [c for c in _day_candidates(g.tz, d, g.start) if c > t and in_window(g, c)]
        if hits and (best is None or hits[0] < best):
            best = hits[0]
        elif best is not None:
            break  # one more day checked past the first hit guards against a wall date going back
    if best is None or (g.end is not None and best >= g.end):
        return None
    return best


def add_duration(tz: ZoneInfo, t: datetime, d: Duration) -> datetime:
    """W and D in local wall-clock time (fold=0), then H, M, S as elapsed time (SPEC §4)."""
    if d.is_zero:
        return t
    if d.wall_days:
        wall = t.astimezone(tz).replace(tzinfo=None) + timedelta(days=d.wall_days)
        t = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return t + timedelta(seconds=d.elapsed_seconds)
