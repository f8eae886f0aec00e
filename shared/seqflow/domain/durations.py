"""ISO-8601 durations limited to weeks, days, hours, minutes and seconds (SPEC §2, §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

_PATTERN = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:(?P<t>T)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)
_DAY = 86_400
# Far beyond any real delay (issue 11: validation refuses what the engine cannot compute): ten years of 366
# days added to any instant up to year 9000 (domain.bounds) stays far inside datetime's range.
MAX_DAYS = 10 * 366
MAX_SECONDS = MAX_DAYS * _DAY
_MAX_TEXT = 64
_HINT = "use ISO-8601 with W, D, H, M, S parts only, e.g. P2D, PT4H30M, P1W2DT3H"


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration: W and D are wall-clock days, H, M and S are elapsed time (SPEC §4)."""

    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    def __post_init__(self) -> None:
        if min(self.weeks, self.days, self.hours, self.minutes, self.seconds) < 0:
            raise ValueError("duration parts must not be negative")
        if self.wall_days * _DAY + self.elapsed_seconds > MAX_SECONDS:
            raise ValueError(f"duration is longer than 10 years ({MAX_DAYS} days)")

    @property
    def wall_days(self) -> int:
        """Days added in local wall-clock time: 7 × weeks + days."""
        return 7 * self.weeks + self.days

    @property
    def elapsed_seconds(self) -> int:
        """Seconds added as elapsed time: 3600 × hours + 60 × minutes + seconds."""
        return 3600 * self.hours + 60 * self.minutes + self.seconds

    @property
    def is_zero(self) -> bool:
        return self.wall_days == 0 and self.elapsed_seconds == 0

    def __str__(self) -> str:
        date = _parts((self.weeks, "W"), (self.days, "D"))
        time = _parts((self.hours, "H"), (self.minutes, "M"), (self.seconds, "S"))
        if not date and not time:
            return "PT0S"
        return f"P{date}T{time}" if time else f"P{date}"


ZERO = Duration()


def _parts(*pairs: tuple[int, str]) -> str:
    return "".join(f"{n}{unit}" for n, unit in pairs if n)


def _reject_reason(s: str) -> str:
    """Explain why a string that does not match the pattern is not a duration."""
    if "-" in s:
        return "negative durations are not allowed"
    if "." in s or "," in s:
        return "fractional parts are not allowed"
    head = s.split("T", 1)[0]
    if s.startswith("P") and ("Y" in head or "M" in head):
        return "months and years are not allowed (their length varies); use W or D"
    return _HINT


def parse_duration(s: str) -> Duration:
    """Parse `PnW`, `PnD`, `PTnHnMnS` and their combinations; raise ValueError otherwise."""
    if not isinstance(s, str):
        raise ValueError(f"a duration must be a string, got {type(s).__name__}")
    if len(s) > _MAX_TEXT:
        raise ValueError(f"a duration is at most {_MAX_TEXT} characters")
    match = _PATTERN.fullmatch(s)
    if match is None:
        raise ValueError(f"{s!r} is not a valid duration: {_reject_reason(s)}")
    groups = match.groupdict()
    values = {k: int(v) for k, v in groups.items() if k != "t" and v is not None}
    if not values:
        raise ValueError(f"{s!r} is not a valid duration: it has no parts ({_HINT})")
    if groups["t"] and not any(k in values for k in ("hours", "minutes", "seconds")):
        raise ValueError(f"{s!r} is not a valid duration: 'T' must be followed by H, M or S parts")
    return Duration(**values)


def _validate(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    return parse_duration(value)


DurationStr = Annotated[
    Duration,
    PlainValidator(_validate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["P2D", "PT4H30M"]}),
]
"""A pydantic field type: validates an ISO-8601 string, stores a Duration, serializes back to the string."""
