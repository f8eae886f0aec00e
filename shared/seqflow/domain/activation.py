"""Activation settings of a sequence (SPEC §3) and the from_alias check against the template owner."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from seqflow.domain.bounds import MAX_RATE_COUNT, MAX_RATE_PER_DAYS, check_year, check_zone
from seqflow.domain.durations import DurationStr
from seqflow.domain.errors import ActivationError, DomainError, validate_document
from seqflow.domain.template import Template

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = 86_400
_FROZEN = ConfigDict(frozen=True, extra="forbid")
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlank = Annotated[str, AfterValidator(_non_blank)]
# Sequence names are unique (a PostgreSQL btree index holds at most ~2.7 kB per value) and user ids are ids.
Name = Annotated[str, Field(max_length=200), AfterValidator(_non_blank)]
UserId = Annotated[str, Field(max_length=64), AfterValidator(_non_blank)]


def _parse_local(value: Any) -> date:
    """`YYYY-MM-DD` → date; `YYYY-MM-DDTHH:MM[:SS]` → naive local datetime; offsets are rejected."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError("must be local to timezone: give no UTC offset")
        return check_year(value)
    if isinstance(value, date):
        return check_year(value)
    if not isinstance(value, str) or not _LOCAL.fullmatch(value):
        raise ValueError("must be a local date YYYY-MM-DD or date-time YYYY-MM-DDTHH:MM[:SS] without offset")
    try:
        parsed = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a real date or time ({exc})") from None
    return check_year(parsed)


def _format_local(value: date) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value.isoformat()


LocalDateOrTime = Annotated[
    date,
    PlainValidator(_parse_local),
    PlainSerializer(_format_local, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["2026-12-01", "2026-12-01T09:30"]}),
]
"""A date (whole day) or a naive datetime (an instant), both local to the activation timezone."""


def _parse_hhmm(value: Any, allow_24: bool) -> time:
    if isinstance(value, time):
        return value
    if allow_24 and value == "24:00":
        return time(0)
    if allow_24 and value == "00:00":
        raise ValueError("00:00 is never after start; use 24:00 for the end of the day")
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        limit = "24:00" if allow_24 else "23:59"
        raise ValueError(f"must be a wall time HH:MM between 00:00 and {limit}")
    return time.fromisoformat(value)


def _seconds(t: time) -> int:
    return 3600 * t.hour + 60 * t.minute + t.second


class SendWindow(BaseModel):
    """Daily wall-time window [start, stop); stop 24:00 (stored as 00:00) is the end of the day."""

    model_config = _FROZEN

    start: Annotated[time, PlainValidator(lambda v: _parse_hhmm(v, allow_24=False))]
    stop: Annotated[time, PlainValidator(lambda v: _parse_hhmm(v, allow_24=True))]

    @model_validator(mode="after")
    def _start_before_stop(self) -> Self:
        if self.start_seconds >= self.stop_seconds:
            raise DomainError([("", f"start {self.start:%H:%M} must be before stop {self.stop_text}")])
        return self

    @property
    def start_seconds(self) -> int:
        return _seconds(self.start)

    @property
    def stop_seconds(self) -> int:
        """Seconds since local midnight; 86400 for 24:00."""
        return _seconds(self.stop) or _DAY

    @property
    def stop_text(self) -> str:
        return "24:00" if self.stop_seconds == _DAY else f"{self.stop:%H:%M}"

    @model_serializer
    def _serialize(self) -> dict[str, str]:
        return {"start": f"{self.start:%H:%M}", "stop": self.stop_text}


class RateLimit(BaseModel):
    """At most `count` sends in every interval (t − per, t]; `per` is elapsed time."""

    model_config = _FROZEN

    count: Annotated[int, Field(ge=1, le=MAX_RATE_COUNT)]
    per: DurationStr

    @field_validator("per")
    @classmethod
    def _non_zero(cls, v: Any) -> Any:
        if v.is_zero:
            raise ValueError("must be longer than zero")
        if v.wall_days * _DAY + v.elapsed_seconds > MAX_RATE_PER_DAYS * _DAY:
            raise ValueError(f"must be at most {MAX_RATE_PER_DAYS} days")
        return v

    @property
    def per_seconds(self) -> int:
        return self.per.wall_days * _DAY + self.per.elapsed_seconds


class RateLimits(BaseModel):
    model_config = _FROZEN

    email: RateLimit | None = None
    sms: RateLimit | None = None


class Activation(BaseModel):
    """The scheduling settings a template is activated with (SPEC §3)."""

    model_config = _FROZEN

    name: Name
    template_id: str | None = None
    rollup_id: str | None = None
    begin: LocalDateOrTime
    end: LocalDateOrTime | None = None
    send_days: tuple[Weekday, ...] | None = None
    send_window: SendWindow | None = None
    timezone: Annotated[str, PlainValidator(check_zone), WithJsonSchema({"type": "string", "examples": ["UTC"]})]
    primary_user: UserId
    team_members: tuple[UserId, ...] = Field(default=(), max_length=100)
    rate_limits: RateLimits | None = None
    rewrite_aliases: bool | None = None

    @field_validator("send_days")
    @classmethod
    def _days_are_a_set(cls, v: tuple[Weekday, ...] | None) -> tuple[Weekday, ...] | None:
        if v is not None and not v:
            raise ValueError("must name at least one day (leave it out for every day)")
        if v is not None and len(set(v)) != len(v):
            raise ValueError("must not repeat a day")
        return v

    @model_validator(mode="after")
    def _end_after_begin(self) -> Self:
        end = self.end_instant()
        if end is not None and end <= self.begin_instant():
            raise DomainError([("end", f"must be after begin ({self.begin} in {self.timezone})")])
        return self

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> Activation:
        """Validate activation settings; raise ActivationError listing every error as `path: what`."""
        return validate_document(cls, data, ActivationError)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def weekday_numbers(self) -> frozenset[int]:
        """The send days as datetime.weekday() numbers (Monday = 0); every day when unset."""
        days = self.send_days or WEEKDAYS
        return frozenset(WEEKDAYS.index(d) for d in days)

    def begin_instant(self) -> datetime:
        """A date → 00:00 local that day; a local date-time → that instant (fold=0). Aware, UTC."""
        return self._instant(self.begin, next_day=False)

    def end_instant(self) -> datetime | None:
        """A date → the end of that day (00:00 local next day); a local date-time → that instant."""
        return None if self.end is None else self._instant(self.end, next_day=True)

    def _instant(self, value: date, next_day: bool) -> datetime:
        if isinstance(value, datetime):
            wall = value
        else:
            day = value + timedelta(days=1) if next_day else value
            wall = datetime.combine(day, time(0))
        return wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)


def check_aliases(
    template: Template, primary_user_alias: str, primary_user: str, rewrite: bool | None
) -> tuple[Template, list[str]]:
    """SPEC §3: when the primary user is not the template owner, list (None), rewrite (True) or keep (False).

    Returns the template to keep and the keys of the steps whose from_alias would change (None) or did
    change (True); the caller answers 409 when `rewrite` is None and the list is not empty.
    """
    if primary_user == template.owner or rewrite is False:
        return template, []
    changed = [s.key for s in template.steps() if s.email and s.email.from_alias != primary_user_alias]
    if rewrite is None or not changed:
        return template, changed
    return _rewrite_aliases(template, primary_user_alias), changed


def _rewrite_aliases(template: Template, alias: str) -> Template:
    data = template.to_json()
    for branch in data["branches"]:
        for step in branch["steps"]:
            if "email" in step:
                step["email"]["from_alias"] = alias
    return Template.model_validate(data)
