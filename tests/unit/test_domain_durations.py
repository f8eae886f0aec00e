"""Durations: ISO-8601 W/D/H/M/S only (SPEC §2), wall days vs elapsed seconds (SPEC §4)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from seqflow.domain.durations import Duration, DurationStr, parse_duration


def test_parses_every_part_of_a_combined_duration() -> None:
    assert parse_duration("P1W2DT3H4M5S") == Duration(weeks=1, days=2, hours=3, minutes=4, seconds=5)


@pytest.mark.parametrize("text", ["PT0S", "P0D", "P0W", "PT0M"])
def test_zero_durations_are_zero(text: str) -> None:
    assert parse_duration(text).is_zero


def test_wall_days_count_weeks_as_seven_days() -> None:
    assert parse_duration("P2W3D").wall_days == 17


def test_elapsed_seconds_cover_hours_minutes_and_seconds_only() -> None:
    assert parse_duration("P1DT1H1M1S").elapsed_seconds == 3661


def test_a_non_zero_duration_is_not_zero() -> None:
    assert not parse_duration("PT1S").is_zero


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("P0D", "PT0S"), ("P2D", "P2D"), ("PT4H30M", "PT4H30M"), ("P1W0DT0H5S", "P1WT5S"), ("PT90M", "PT90M")],
)
def test_str_is_the_canonical_iso_form(text: str, canonical: str) -> None:
    assert str(parse_duration(text)) == canonical


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("P1M", "months and years"),
        ("P1Y", "months and years"),
        ("P1Y2D", "months and years"),
        ("P1.5D", "fractional"),
        ("PT0,5H", "fractional"),
        ("-P1D", "negative"),
        ("P-1D", "negative"),
        ("P", "no parts"),
        ("PT", "no parts"),
        ("P1DT", "'T' must be followed"),
        ("", "not a valid duration"),
        ("2 days", "not a valid duration"),
        ("p1d", "not a valid duration"),
        (" P1D", "not a valid duration"),
        ("PT1S2H", "not a valid duration"),
    ],
)
def test_rejects_unsupported_durations_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


def test_rejects_a_non_string() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_duration(3)  # type: ignore[arg-type]


def test_rejects_durations_longer_than_ten_years() -> None:
    with pytest.raises(ValueError, match="10 years"):
        parse_duration("P99999999W")
    with pytest.raises(ValueError, match="10 years"):
        parse_duration("P3661D")
    assert parse_duration("P3660D").wall_days == 3660


def test_rejects_a_duration_written_with_thousands_of_digits() -> None:
    with pytest.raises(ValueError, match="at most 64 characters"):
        parse_duration("P" + "9" * 5000 + "D")


def test_negative_parts_cannot_be_constructed() -> None:
    with pytest.raises(ValueError, match="negative"):
        Duration(days=-1)


parts = st.integers(min_value=0, max_value=500)


@given(st.builds(Duration, weeks=st.integers(min_value=0, max_value=400), days=parts, hours=parts, minutes=parts,
                 seconds=parts))  # fmt: skip
def test_str_round_trips_through_parse(duration: Duration) -> None:
    assert parse_duration(str(duration)) == duration


class _Holder(BaseModel):
    delay: DurationStr


def test_duration_str_field_stores_the_parsed_duration() -> None:
    assert _Holder.model_validate({"delay": "PT4H30M"}).delay == Duration(hours=4, minutes=30)


def test_duration_str_field_serializes_back_to_the_string() -> None:
    assert _Holder.model_validate({"delay": "P2D"}).model_dump(mode="json") == {"delay": "P2D"}


def test_duration_str_field_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate({"delay": "P1M"})
    assert info.value.errors()[0]["loc"] == ("delay",)
