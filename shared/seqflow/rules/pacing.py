"""When the dispatcher may call the provider for one more send of a rate-limited sequence channel (SPEC §4).

The limit is a promise about arrivals at the provider, and an arrival lies somewhere between the start of
a call and its completion. So a call may start at `t` only if fewer than `count` earlier calls could have
arrived in `(t - per, t]`: every call still in flight, and every call that completed after `t - per`.
Then no `(t - per, t]` window of arrivals ever holds more than `count`: in any such window, take the call
that started last; each other arrival in it is later than that start minus `per`, so its call was counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

# A window longer than this is, for pacing, forever; bounding it keeps datetime arithmetic from overflowing
# on an absurd `per` (a limit must never crash the dispatcher).
MAX_PER = timedelta(days=3650)


def window_of(per_seconds: int) -> timedelta:
    """The pacing window of a limit's `per`, bounded by MAX_PER."""
    return MAX_PER if per_seconds >= MAX_PER.total_seconds() else timedelta(seconds=max(per_seconds, 0))


def next_call_at(
    ended: Sequence[datetime], in_flight: int, count: int, per_seconds: int, now: datetime
) -> datetime | None:
    """The earliest instant >= `now` a new call may start, or None while in-flight calls alone fill the limit.

    `ended`: completion instants of the finished calls (any order; those before `now - per` do not matter).
    `in_flight`: calls started and not yet known to be finished (a crashed one counts until it is finished).
    """
    if in_flight >= count:
        return None  # only a completion can make room; its instant is not known yet
    per = window_of(per_seconds)
    recent = sorted(t for t in ended if t + per > now)
    excess = in_flight + len(recent) - count
    if excess < 0:
        return now
    # the (excess+1) earliest completions must leave the window before one more call fits
    return recent[excess] + per
