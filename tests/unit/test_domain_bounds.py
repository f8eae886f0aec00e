"""What validation refuses because the system could not store or compute it (issues 10 and 11)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from seqflow.domain.activation import Activation
from seqflow.domain.bounds import Instant, check_zone, iana_zones, parse_id, parse_instant_text
from seqflow.domain.durations import MAX_DAYS
from seqflow.domain.errors import ActivationError
from seqflow.domain.text import depth, unstorable_path


def settings(**overrides: Any) -> dict[str, Any]:
    base = {"name": "Q4", "begin": "2026-12-01", "timezone": "UTC", "primary_user": "alice"}
    return base | overrides


def error_for(**overrides: Any) -> str:
    with pytest.raises(ActivationError) as info:
        Activation.from_json(settings(**overrides))
    return str(info.value)


@pytest.mark.parametrize("begin", ["0001-01-01", "1969-12-31", "9001-01-01", "9999-12-31T23:59"])
def test_a_begin_outside_the_years_1970_to_9000_is_refused_naming_the_field(begin: str) -> None:
    assert error_for(begin=begin).startswith("begin: must be between the years 1970 and 9000")


def test_the_last_end_that_is_allowed_is_computed_even_in_the_westernmost_zone() -> None:
    act = Activation.from_json(settings(end="9000-12-31T23:59", timezone="Etc/GMT+12"))
    assert act.end_instant() == datetime(9001, 1, 1, 11, 59, tzinfo=UTC)
    assert error_for(end="9999-12-31T23:59", timezone="Etc/GMT+12").startswith("end: must be between")


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posix/Europe/Paris", "right/UTC", "/etc/localtime", "",
                                  "Mars/Base", "../../etc/passwd", 5])  # fmt: skip
def test_only_iana_zone_names_are_timezones(zone: Any) -> None:
    assert error_for(timezone=zone).startswith("timezone: unknown IANA time zone")


def test_iana_zone_names_are_accepted() -> None:
    assert check_zone("America/New_York") == "America/New_York"
    assert check_zone("UTC") == "UTC"


@pytest.mark.parametrize(("count", "per", "field", "what"), [
    (2**63, "PT1H", "count", "less than or equal to 1000000"),
    (1_000_001, "PT1H", "count", "less than or equal to 1000000"),
    (0, "PT1H", "count", "greater than or equal to 1"),
    (10, "P367D", "per", "at most 366 days"),
    (10, "P53W", "per", "at most 366 days"),
])  # fmt: skip
def test_a_rate_limit_the_engine_cannot_compute_is_refused(count: int, per: str, field: str, what: str) -> None:
    message = error_for(rate_limits={"email": {"count": count, "per": per}})
    assert message.startswith(f"rate_limits.email.{field}: ") and what in message


def test_the_largest_rate_limit_is_accepted() -> None:
    act = Activation.from_json(settings(rate_limits={"sms": {"count": 1_000_000, "per": "P366D"}}))
    assert act.rate_limits is not None and act.rate_limits.sms is not None
    assert act.rate_limits.sms.per_seconds == 366 * 86_400


class Stamp(BaseModel):
    at: Instant


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "1969-12-31T23:59:59Z"])
def test_an_instant_outside_the_years_1970_to_9000_is_refused(at: str) -> None:
    with pytest.raises(ValidationError, match="1970 and 9000"):
        Stamp.model_validate({"at": at})


def test_an_instant_inside_the_range_is_kept() -> None:
    assert Stamp.model_validate({"at": "2026-12-01T14:00:00+01:00"}).at == datetime(2026, 12, 1, 13, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), ("9223372036854775807", 2**63 - 1), ("9223372036854775808", None), ("0", None), ("-1", None),
    ("１", None), ("1e3", None), ("", None), ("9" * 5000, None)])  # fmt: skip
def test_an_id_is_a_positive_bigint_or_nothing(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_a_string_postgresql_cannot_store_is_found_anywhere_in_a_json_document_with_its_path() -> None:
    assert unstorable_path({"a": [1, {"b": "x\x00y"}]}) == "a[1].b"
    assert unstorable_path({"k\x00": 1}) == "k\x00"
    assert unstorable_path({"a": ["\ud800"]}) == "a[0]"
    assert unstorable_path({"a": ["fine", "ünïcødé 😀"]}) is None


def test_depth_counts_nesting_without_recursion() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert depth(deep) == 100_001
    assert depth({"a": {"b": 1}}) == 2
    assert depth("x") == 0


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2026-12-01T10:00",
                                  "yesterday", "1969-12-31T23:59:59Z"])  # fmt: skip
def test_a_query_instant_out_of_range_or_without_offset_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant_text(text)


def test_a_query_instant_is_read_as_utc() -> None:
    assert parse_instant_text("2026-12-01T09:00-05:00") == datetime(2026, 12, 1, 14, tzinfo=UTC)


@hypothesis_settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(1970, 1, 2), max_value=date(9000, 12, 31)),
       zone=st.sampled_from(sorted(iana_zones())), minutes=st.integers(min_value=0, max_value=1439))  # fmt: skip
def test_every_activation_that_validates_has_instants_the_engine_can_compute(day: date, zone: str,
                                                                             minutes: int) -> None:  # fmt: skip
    local = f"{day.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}"
    act = Activation.from_json(settings(begin="1970-01-01", end=local, timezone=zone))
    end = act.end_instant()
    assert end is not None
    assert end + timedelta(days=MAX_DAYS) > end  # the longest delay after the latest end still computes
