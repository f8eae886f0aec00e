"""Template format and validation (SPEC §2); the checks across steps are in test_domain_template_graph.py."""

import json
from pathlib import Path
from typing import Any

import pytest
from support.templates import SPEC_EXAMPLE, auto, error_of, example, ncm, one_branch, spec

from seqflow.domain.durations import Duration
from seqflow.domain.errors import TemplateError
from seqflow.domain.template import Template, Then

# --- accepted -------------------------------------------------------------------------------------


def test_accepts_the_spec_example() -> None:
    assert spec().name == "Senior Python outreach"


def test_the_template_example_in_docs_rules_md_is_accepted_verbatim() -> None:
    text = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    start = text.index("```json") + len("```json")
    assert Template.from_json(text[start : text.index("```", start)]).name == "Senior Python outreach"


def test_accepts_json_text() -> None:
    assert Template.from_json(json.dumps(SPEC_EXAMPLE)) == spec()


def test_to_json_round_trips() -> None:
    assert Template.from_json(spec().to_json()) == spec()


def test_then_serializes_as_its_single_key() -> None:
    assert Then(goto_step="call").model_dump() == {"goto_step": "call"}


def test_delay_defaults_to_zero() -> None:
    assert spec().step("book").delay == Duration()


def test_priority_defaults_to_normal() -> None:
    assert spec().step("intro").priority == "normal"


# --- helpers --------------------------------------------------------------------------------------


def test_entry_step_is_the_first_step_of_the_first_branch() -> None:
    assert spec().entry_step().key == "intro"


def test_locate_gives_branch_and_index() -> None:
    assert spec().locate("call") == ("main", 2)


def test_step_of_an_unknown_key_raises_key_error() -> None:
    with pytest.raises(KeyError):
        spec().step("nope")


def test_next_step_key_is_the_following_step_in_the_branch() -> None:
    assert spec().next_step_key("intro") == "bump"


def test_next_step_key_is_none_at_the_end_of_a_branch() -> None:
    assert spec().next_step_key("book") is None


def test_first_step_of_a_branch() -> None:
    assert spec().first_step_of("engaged") == "book"


@pytest.mark.parametrize(
    ("step", "then", "move"),
    [
        ("intro", {"next": True}, ("arrive", "bump")),
        ("call", {"next": True}, ("complete", None)),
        ("intro", {"goto_step": "call"}, ("arrive", "call")),
        ("intro", {"goto_branch": "engaged"}, ("arrive", "book")),
        ("intro", {"complete": True}, ("complete", None)),
        ("call", {"exit": "not_interested"}, ("exit", "not_interested")),
    ],
)
def test_resolve_target(step: str, then: dict[str, Any], move: tuple[str, str | None]) -> None:
    assert spec().resolve_target(step, Then.model_validate(then)) == move


@pytest.mark.parametrize(
    ("then", "kind", "target"),
    [
        ({"next": True}, "next", None),
        ({"goto_step": "a"}, "goto_step", "a"),
        ({"goto_branch": "b"}, "goto_branch", "b"),
        ({"complete": True}, "complete", None),
        ({"exit": "why"}, "exit", "why"),
    ],
)
def test_then_kind_and_target(then: dict[str, Any], kind: str, target: str | None) -> None:
    parsed = Then.model_validate(then)
    assert (parsed.kind, parsed.target) == (kind, target)


def test_automatic_steps_are_auto_with_a_channel() -> None:
    assert [(s.is_auto, s.channel) for s in spec().steps()] == [
        (True, "email"),
        (True, "sms"),
        (False, None),
        (False, None),
    ]


def test_manual_outcomes_are_the_when_labels() -> None:
    assert spec().step("call").outcomes == ["Connected", "Left voicemail", "Not interested"]


def test_a_manual_step_without_conditions_has_the_single_outcome_done() -> None:
    assert spec().step("book").outcomes == ["Done"]


def test_done_on_a_manual_step_without_conditions_moves_next() -> None:
    assert spec().step("book").then_for_outcome("Done") == Then(next=True)


def test_then_for_outcome_finds_the_labelled_condition() -> None:
    assert spec().step("call").then_for_outcome("Not interested") == Then(exit="not_interested")


def test_then_for_an_unknown_outcome_is_none() -> None:
    assert spec().step("call").then_for_outcome("Done") is None


def test_engagement_conditions_exclude_no_condition_met() -> None:
    assert [c.when for c in spec().step("intro").engagement_conditions] == ["replied", "clicked"]


def test_no_condition_met_is_found() -> None:
    found = spec().step("intro").no_condition_met
    assert found is not None and found.within == Duration(days=3)


def test_templates_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        spec().name = "other"  # type: ignore[misc]


# --- rejected -------------------------------------------------------------------------------------


def test_rejects_an_unknown_step_type_naming_the_field() -> None:
    data = example()
    data["branches"][1]["steps"][0]["type"] = "fax"
    assert error_of(data).startswith("branches[1].steps[0].type: unknown step type 'fax'")


def test_rejects_an_unknown_field() -> None:
    data = example()
    data["branches"][0]["steps"][1]["colour"] = "red"
    assert error_of(data).startswith("branches[0].steps[1].colour: ")


def test_rejects_no_condition_met_without_within() -> None:
    data = example()
    del data["branches"][0]["steps"][0]["conditions"][2]["within"]
    assert error_of(data).startswith("branches[0].steps[0].conditions[2].within: no_condition_met needs")


def test_rejects_within_on_an_engagement_condition() -> None:
    data = example()
    data["branches"][0]["steps"][0]["conditions"][0]["within"] = "P1D"
    assert error_of(data).startswith("branches[0].steps[0].conditions[0].within: within applies only")


def test_rejects_a_non_engagement_when_on_an_automatic_step() -> None:
    data = example()
    data["branches"][0]["steps"][0]["conditions"][0]["when"] = "Connected"
    assert error_of(data).startswith("branches[0].steps[0].conditions[0].when: 'Connected' is not a condition")


def test_rejects_engagement_conditions_without_no_condition_met() -> None:
    data = example()
    del data["branches"][0]["steps"][0]["conditions"][2]
    assert error_of(data).startswith("branches[0].steps[0].conditions: an automatic step with engagement")


def test_accepts_an_automatic_step_with_only_no_condition_met() -> None:
    assert Template.from_json(one_branch(auto("a", conditions=[ncm("P1D", {"next": True})])))


def test_rejects_a_duplicate_when_in_one_step() -> None:
    data = example()
    data["branches"][0]["steps"][2]["conditions"][1]["when"] = "Connected"
    assert error_of(data).startswith("branches[0].steps[2].conditions[1].when: duplicate 'Connected'")


def test_rejects_no_condition_met_on_a_manual_step() -> None:
    data = example()
    data["branches"][0]["steps"][2]["conditions"].append(ncm("P1D", {"next": True}))
    assert error_of(data).startswith("branches[0].steps[2].conditions[3].when: no_condition_met applies only")


def test_rejects_retry_as_a_manual_outcome() -> None:
    data = example()
    data["branches"][0]["steps"][2]["conditions"][0]["when"] = "Retry"
    assert error_of(data).startswith("branches[0].steps[2].conditions[0].when: 'Retry' is reserved")


def test_rejects_a_blank_when() -> None:
    data = example()
    data["branches"][0]["steps"][2]["conditions"][0]["when"] = " "
    assert error_of(data).startswith("branches[0].steps[2].conditions[0].when: must not be blank")


@pytest.mark.parametrize("delay", ["P1M", "P1.5D", "-PT1H", "PT", "soon"])
def test_rejects_a_bad_delay_naming_the_field(delay: str) -> None:
    data = example()
    data["branches"][0]["steps"][1]["delay"] = delay
    assert error_of(data).startswith(f"branches[0].steps[1].delay: {delay!r} is not a valid duration")


def test_rejects_a_bad_within_naming_the_field() -> None:
    data = example()
    data["branches"][0]["steps"][0]["conditions"][2]["within"] = "P1Y"
    assert error_of(data).startswith("branches[0].steps[0].conditions[2].within: 'P1Y' is not a valid")


def test_rejects_an_empty_branch() -> None:
    data = example()
    data["branches"][1]["steps"] = []
    assert error_of(data) == "branches[1].steps: a branch needs at least one step"


def test_rejects_a_template_without_branches() -> None:
    assert error_of({"name": "t", "owner": "alice", "branches": []}) == "branches: a template needs at least one branch"


def test_rejects_auto_email_without_email() -> None:
    data = example()
    del data["branches"][0]["steps"][0]["email"]
    assert error_of(data).startswith("branches[0].steps[0].email: an auto_email step needs email content")


@pytest.mark.parametrize("field", ["subject", "body"])
def test_rejects_auto_email_with_a_blank_subject_or_body(field: str) -> None:
    data = example()
    data["branches"][0]["steps"][0]["email"][field] = "  "
    assert error_of(data).startswith(f"branches[0].steps[0].email.{field}: must not be blank")


def test_rejects_auto_email_without_a_from_alias() -> None:
    data = example()
    del data["branches"][0]["steps"][0]["email"]["from_alias"]
    assert error_of(data).startswith("branches[0].steps[0].email.from_alias: ")


def test_rejects_auto_sms_without_sms() -> None:
    data = example()
    del data["branches"][0]["steps"][1]["sms"]
    assert error_of(data).startswith("branches[0].steps[1].sms: an auto_sms step needs sms content")


def test_rejects_auto_sms_with_a_blank_body() -> None:
    data = example()
    data["branches"][0]["steps"][1]["sms"]["body"] = ""
    assert error_of(data).startswith("branches[0].steps[1].sms.body: must not be blank")


def test_rejects_an_unknown_priority() -> None:
    data = example()
    data["branches"][0]["steps"][2]["priority"] = "urgent"
    assert error_of(data).startswith("branches[0].steps[2].priority: ")


@pytest.mark.parametrize("then", [{}, {"next": True, "complete": True}, {"next": False}, {"exit": ""}, {"jump": "x"}])
def test_rejects_a_then_that_is_not_exactly_one_move(then: dict[str, Any]) -> None:
    data = example()
    data["branches"][0]["steps"][2]["conditions"][0]["then"] = then
    assert error_of(data).startswith("branches[0].steps[2].conditions[0].then")


def test_lists_every_error_on_its_own_line() -> None:
    data = example()
    data["branches"][0]["steps"][1]["type"] = "fax"
    data["branches"][0]["steps"][2]["delay"] = "P1M"
    assert len(error_of(data).splitlines()) == 2


def test_rejects_malformed_json_text() -> None:
    with pytest.raises(TemplateError, match="Invalid JSON"):
        Template.from_json("{not json")
