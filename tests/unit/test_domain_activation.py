"""Activation settings (SPEC §3): validation, begin/end instants, alias check."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from seqflow.domain.activation import Activation, RateLimit, SendWindow, check_aliases
from seqflow.domain.errors import ActivationError
from seqflow.domain.template import Template


def settings(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Python Q4 – Alice",
        "template_id": "t1",
        "rollup_id": "r1",
        "begin": "2026-12-01",
        "end": None,
        "send_days": ["mon", "tue", "wed", "thu", "fri"],
        "send_window": {"start": "08:00", "stop": "17:00"},
        "timezone": "America/New_York",
        "primary_user": "alice",
        "team_members": ["bob"],
        "rate_limits": {"email": {"count": 100, "per": "PT1H"}, "sms": {"count": 20, "per": "PT1H"}},
        "rewrite_aliases": None,
    }
    return base | overrides


def activation(**overrides: Any) -> Activation:
    return Activation.from_json(settings(**overrides))


def error_for(**overrides: Any) -> str:
    with pytest.raises(ActivationError) as info:
        activation(**overrides)
    return str(info.value)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_accepts_the_spec_example() -> None:
    assert activation().timezone == "America/New_York"


def test_accepts_only_the_required_fields() -> None:
    minimal = {"name": "n", "begin": "2026-12-01", "timezone": "UTC", "primary_user": "alice"}
    assert Activation.from_json(minimal).send_days is None


@pytest.mark.parametrize("field", ["name", "begin", "timezone", "primary_user"])
def test_rejects_a_missing_required_field(field: str) -> None:
    data = settings()
    del data[field]
    with pytest.raises(ActivationError, match=f"^{field}: "):
        Activation.from_json(data)


def test_rejects_a_blank_name() -> None:
    assert error_for(name="  ").startswith("name: must not be blank")


def test_rejects_an_unknown_field() -> None:
    assert "colour: " in error_for(colour="red")


def test_rejects_an_unknown_timezone_naming_it() -> None:
    assert error_for(timezone="Mars/Olympus").startswith("timezone: unknown IANA time zone")


def test_rejects_a_path_as_timezone() -> None:
    assert error_for(timezone="../etc/passwd").startswith("timezone: ")


def test_a_date_begin_is_local_midnight() -> None:
    assert activation(begin="2026-12-01").begin_instant() == utc(2026, 12, 1, 5)


def test_a_date_time_begin_is_that_local_instant() -> None:
    assert activation(begin="2026-12-01T09:30").begin_instant() == utc(2026, 12, 1, 14, 30)


def test_a_begin_with_seconds_is_accepted() -> None:
    assert activation(begin="2026-12-01T09:30:15").begin_instant() == utc(2026, 12, 1, 14, 30, 15)


def test_a_begin_in_the_spring_forward_gap_resolves_with_fold_zero() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; fold=0 reads it with the EST offset → 03:30 EDT.
    assert activation(begin="2026-03-08T02:30").begin_instant() == utc(2026, 3, 8, 7, 30)


def test_an_ambiguous_begin_resolves_to_the_first_occurrence() -> None:
    assert activation(begin="2026-11-01T01:30").begin_instant() == utc(2026, 11, 1, 5, 30)


def test_a_date_begin_on_a_dst_day_is_local_midnight_of_that_day() -> None:
    assert activation(begin="2026-03-08").begin_instant() == utc(2026, 3, 8, 5)


def test_a_date_end_is_the_end_of_that_day() -> None:
    assert activation(end="2026-12-31").end_instant() == utc(2027, 1, 1, 5)


def test_a_date_time_end_is_that_local_instant() -> None:
    assert activation(end="2026-12-31T17:00").end_instant() == utc(2026, 12, 31, 22)


def test_no_end_has_no_end_instant() -> None:
    assert activation().end_instant() is None


def test_an_end_on_the_begin_day_is_after_a_date_begin() -> None:
    assert activation(end="2026-12-01").end is not None


def test_rejects_an_end_before_begin_naming_end() -> None:
    assert error_for(end="2026-11-30").startswith("end: must be after begin")


def test_rejects_an_end_equal_to_begin_naming_end() -> None:
    assert error_for(begin="2026-12-01T09:00", end="2026-12-01T09:00").startswith("end: ")


@pytest.mark.parametrize("value", ["2026-12-01T09:00Z", "2026-12-01T09:00+01:00", "2026-12-01 09:00"])
def test_rejects_begin_with_an_offset_or_other_format(value: str) -> None:
    assert error_for(begin=value).startswith("begin: must be a local date")


def test_rejects_an_impossible_date_naming_begin() -> None:
    assert error_for(begin="2026-02-30").startswith("begin: '2026-02-30' is not a real date")


def test_rejects_an_aware_python_datetime() -> None:
    assert error_for(begin=utc(2026, 12, 1)).startswith("begin: must be local")


def test_begin_keeps_a_date_as_a_date() -> None:
    assert activation().begin == date(2026, 12, 1)


def test_begin_serializes_back_to_the_local_string() -> None:
    assert activation(begin="2026-12-01T09:30").model_dump(mode="json")["begin"] == "2026-12-01T09:30:00"


def test_rejects_empty_send_days() -> None:
    assert error_for(send_days=[]).startswith("send_days: must name at least one day")


def test_rejects_repeated_send_days() -> None:
    assert error_for(send_days=["mon", "mon"]).startswith("send_days: must not repeat")


def test_rejects_an_unknown_send_day_naming_it() -> None:
    assert error_for(send_days=["mon", "funday"]).startswith("send_days[1]: ")


def test_weekday_numbers_count_from_monday() -> None:
    assert activation(send_days=["mon", "sun"]).weekday_numbers == frozenset({0, 6})


def test_absent_send_days_mean_every_day() -> None:
    assert activation(send_days=None).weekday_numbers == frozenset(range(7))


def test_send_window_seconds_count_from_local_midnight() -> None:
    window = SendWindow.model_validate({"start": "08:00", "stop": "17:30"})
    assert (window.start_seconds, window.stop_seconds) == (28_800, 63_000)


def test_send_window_stop_may_be_the_end_of_the_day() -> None:
    assert SendWindow.model_validate({"start": "00:00", "stop": "24:00"}).stop_seconds == 86_400


def test_send_window_serializes_as_wall_times() -> None:
    window = SendWindow.model_validate({"start": "08:00", "stop": "24:00"})
    assert window.model_dump() == {"start": "08:00", "stop": "24:00"}


@pytest.mark.parametrize(("start", "stop"), [("17:00", "08:00"), ("08:00", "08:00")])
def test_rejects_a_send_window_that_does_not_start_before_it_stops(start: str, stop: str) -> None:
    message = error_for(send_window={"start": start, "stop": stop})
    assert message.startswith("send_window: start")


@pytest.mark.parametrize(("field", "value"), [("start", "24:00"), ("start", "8:00"), ("stop", "25:00")])
def test_rejects_a_malformed_window_time_naming_it(field: str, value: str) -> None:
    window = {"start": "08:00", "stop": "17:00"} | {field: value}
    assert error_for(send_window=window).startswith(f"send_window.{field}: must be a wall time")


def test_rejects_a_send_window_stopping_at_midnight_as_00_00() -> None:
    message = error_for(send_window={"start": "08:00", "stop": "00:00"})
    assert message.startswith("send_window.stop: 00:00 is never after start; use 24:00")


def test_rate_limit_per_counts_days_as_86400_seconds() -> None:
    assert RateLimit.model_validate({"count": 5, "per": "P1DT1H"}).per_seconds == 90_000


def test_rejects_a_rate_limit_count_below_one() -> None:
    bad = {"email": {"count": 0, "per": "PT1H"}}
    assert error_for(rate_limits=bad).startswith("rate_limits.email.count: Input should be greater than or equal to 1")


def test_rejects_a_zero_rate_limit_period() -> None:
    bad = {"sms": {"count": 5, "per": "PT0S"}}
    assert error_for(rate_limits=bad).startswith("rate_limits.sms.per: must be longer than zero")


def test_rejects_a_rate_limit_for_an_unknown_channel() -> None:
    assert "rate_limits.fax: " in error_for(rate_limits={"fax": {"count": 1, "per": "PT1H"}})


def test_lists_every_error_on_its_own_line() -> None:
    assert len(error_for(name="", timezone="Nowhere").splitlines()) == 2


def test_tz_is_the_zone_of_timezone() -> None:
    assert activation().tz.key == "America/New_York"


def alias_template(owner: str = "alice") -> Template:
    return Template.from_json(
        {
            "name": "t",
            "owner": owner,
            "branches": [
                {
                    "key": "main",
                    "steps": [
                        {
                            "key": "a",
                            "type": "auto_email",
                            "email": {"from_alias": "a@x", "subject": "s", "body": "b"},
                        },
                        {"key": "m", "type": "manual_email", "email": {"from_alias": "a@x"}},
                        {"key": "s", "type": "auto_sms", "sms": {"body": "hi"}},
                    ],
                }
            ],
        }
    )


def test_aliases_are_untouched_when_the_primary_user_owns_the_template() -> None:
    template = alias_template()
    assert check_aliases(template, "b@x", "alice", None) == (template, [])


def test_aliases_without_a_decision_list_the_steps_that_would_change() -> None:
    assert check_aliases(alias_template(), "b@x", "bob", None)[1] == ["a", "m"]


def test_aliases_without_a_decision_keep_the_template() -> None:
    template = alias_template()
    assert check_aliases(template, "b@x", "bob", None)[0] is template


def test_rewriting_aliases_sets_every_from_alias_to_the_primary_users() -> None:
    rewritten, _ = check_aliases(alias_template(), "b@x", "bob", True)
    assert [s.email.from_alias for s in rewritten.steps() if s.email] == ["b@x", "b@x"]


def test_keeping_aliases_returns_the_template_unchanged() -> None:
    template = alias_template()
    assert check_aliases(template, "b@x", "bob", False) == (template, [])


def test_aliases_already_matching_the_primary_user_need_no_decision() -> None:
    assert check_aliases(alias_template(), "a@x", "bob", None)[1] == []
