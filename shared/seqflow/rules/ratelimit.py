"""The sliding-window rate limit of SPEC §4: at most `count` grants in every interval (t - per, t]."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from seqflow.domain.activation import RateLimit


class SlidingWindow:
    """Remembers the last `count` grants; only they can hold a new grant back."""

    def __init__(self, count: int, per_seconds: int, grants: Iterable[datetime] = ()) -> None:
        self.count = count
        self.per = timedelta(seconds=per_seconds)
        self.grants: deque[datetime] = deque(sorted(grants)[-count:], maxlen=count)

    def available_at(self, t: datetime) -> datetime:
        """Earliest instant >= t at which one more grant keeps the limit (grants are all <= t)."""
        if len(self.grants) < self.count:
            return t
        return max(t, self.grants[0] + self.per)

    def has_room(self, t: datetime) -> bool:
        """available_at(t) == t, without building the answer (the limiter's hot loop)."""
        return len(self.grants) < self.count or self.grants[0] + self.per <= t

    def grant(self, t: datetime) -> None:
        self.grants.append(t)


class Unlimited(SlidingWindow):
    def __init__(self) -> None:
        super().__init__(1, 0)

    def available_at(self, t: datetime) -> datetime:
        return t

    def has_room(self, t: datetime) -> bool:
        return True

    def grant(self, t: datetime) -> None:
        return None


def window_violations(times: list[datetime], count: int, per_seconds: int) -> list[datetime]:
    """Brute force: every grant time t at which (t - per, t] holds more than `count` grants."""
    per = timedelta(seconds=per_seconds)
    ordered = sorted(times)
    return [t for t in ordered if sum(1 for s in ordered if t - per < s <= t) > count]


def limiter_for(limit: RateLimit | None, grants: Iterable[datetime] = ()) -> SlidingWindow:
    """The limiter of one channel: a sliding window, or no limit at all."""
    return Unlimited() if limit is None else SlidingWindow(limit.count, limit.per_seconds, grants)
