"""What the whole system can store and compute: years 1970–9000, IANA zones, bounded counts (issues 10, 11).

Chosen so every computation stays far inside Python's `datetime` (years 1–9999) and PostgreSQL's
`timestamptz`, with room for the longest delay (10 years, `durations.MAX_DAYS`) and the widest UTC offset.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, WithJsonSchema

MIN_YEAR, MAX_YEAR = 1970, 9000
MAX_RATE_COUNT = 1_000_000
"""The most sends a rate limit may allow per window (the limiter keeps one instant per send)."""
MAX_RATE_PER_DAYS = 366
"""The longest rate-limit window."""
MAX_ID = 2**63 - 1
"""The largest PostgreSQL bigint (task ids)."""


def check_year(value: date) -> date:
    """A date or datetime in years 1970–9000, else ValueError."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def check_instant(value: datetime) -> datetime:
    """An aware instant whose UTC date is in years 1970–9000."""
    return check_year(value.astimezone(UTC)) if MIN_YEAR < value.year < MAX_YEAR else check_year(value)


def parse_instant_text(text: str) -> datetime:
    """An ISO-8601 instant with an offset (`Z` allowed) in years 1970–9000, as UTC; ValueError otherwise."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset")
        return check_instant(value).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}") from None


Instant = Annotated[
    AwareDatetime,
    AfterValidator(check_instant),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-12-01T14:00:00Z"]}),
]
"""An ISO-8601 instant with a UTC offset, in years 1970–9000."""


# Names the host's zoneinfo files may offer that are not real IANA zones: `localtime` means whatever the host
# is set to, `Factory` is a placeholder, `posix/` and `right/` are copies (the latter counting leap seconds).
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def iana_zones() -> frozenset[str]:
    return frozenset(z for z in available_timezones() if z not in _NOT_ZONES and not z.startswith(("posix/", "right/")))


def check_zone(value: Any) -> str:
    """An IANA zone name (`Europe/Paris`, `UTC`); never `localtime` or a file path, which mean the host's."""
    if not isinstance(value, str) or value not in iana_zones():
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'America/New_York', 'UTC')")
    return value


def parse_id(text: str) -> int | None:
    """A positive bigint id written in decimal digits, else None (so a lookup answers 404, never a 500)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
