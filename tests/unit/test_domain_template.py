"""Template format and validation (SPEC §2, zero-time cycles of §4.1)."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from seqflow.domain.durations import Duration
from seqflow.domain.errors import TemplateError
from seqflow.domain.template import Template, Then

SPEC_EXAMPLE: dict[str, Any] = {
    "name": "Senior Python outreach",
    "owner": "alice",
    "branches": [
        {
            "key": "main",
            "steps": [
                {
                    "key": "intro",
                    "type": "auto_email",
                    "delay": "PT0S",
                    "email": {
                        "from_alias": "alice@agency.example",
                        "subject": "Hi {{first_name}}",
                        "body": "...",
                    },
                    "conditions": [
                        {"when": "replied", "then": {"goto_branch": "engaged"}},
                        {"when": "clicked", "then": {"goto_step": "call"}},
                        {"when": "no_condition_met", "within": "P3D", "then": {"next": True}},
                    ],
                },
                {
                    "key": "bump",
                    "type": "auto_sms",
                    "delay": "P1D",
                    "sms": {"body": "Hi {{first_name}}, ..."},
                },
                {
                    "key": "call",
                    "type": "call",
                    "delay": "PT2H",
                    "priority": "high",
                    "instructions": "Ask about notice period",
                    "script": "Hi {{first_name}}, ...",
                    "conditions": [
                        {"when": "Connected", "then": {"complete": True}},
                        {"when": "Left voicemail", "then": {"next": True}},
                        {"when": "Not interested", "then": {"exit": "not_interested"}},
                    ],
                },
            ],
        },
        {"key": "engaged", "steps": [{"key": "book", "type": "task", "instructions": "Book a screen"}]},
    ],
}

EMAIL = {"from_alias": "a@x", "subject": "s", "body": "b"}


def example() -> dict[str, Any]:
    return copy.deepcopy(SPEC_EXAMPLE)


def auto(key: str, delay: str = "PT0S", conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"key": key, "type": "auto_email", "delay": delay, "email": EMAIL, "conditions": conditions or []}


def task(key: str) -> dict[str, Any]:
    return {"key": key, "type": "task"}


def ncm(within: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"when": "no_condition_met", "within": within, "then": then}


def one_branch(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "t", "owner": "alice", "branches": [{"key": "main", "steps": list(steps)}]}


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(TemplateError) as info:
        Template.from_json(data)
    return str(info.value)


def spec() -> Template:
    return Template.from_json(SPEC_EXAMPLE)


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


def test_rejects_a_duplicate_step_key_across_branches() -> None:
    data = example()
    data["branches"][1]["steps"][0]["key"] = "intro"
    assert "branches[1].steps[0].key: duplicate step key 'intro'" in error_of(data)


def test_rejects_a_duplicate_branch_key() -> None:
    data = example()
    data["branches"].append({"key": "main", "steps": [task("extra")]})
    assert "branches[2].key: duplicate branch key 'main'" in error_of(data)


def test_rejects_a_dangling_goto_step() -> None:
    data = example()
    data["branches"][0]["steps"][0]["conditions"][1]["then"] = {"goto_step": "xyz"}
    assert error_of(data) == "branches[0].steps[0].conditions[1].then.goto_step: unknown step 'xyz'"


def test_rejects_a_dangling_goto_branch() -> None:
    data = example()
    data["branches"][0]["steps"][0]["conditions"][0]["then"] = {"goto_branch": "nowhere"}
    assert error_of(data) == "branches[0].steps[0].conditions[0].then.goto_branch: unknown branch 'nowhere'"


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


# --- cycles of moves that all happen at once (§4.1) ---------------------------------------------


def test_rejects_a_zero_delay_self_loop() -> None:
    data = one_branch(auto("a", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert error_of(data) == "branches[0].steps[0]: cycle of moves that all happen at once: a -> a"


def test_rejects_a_zero_time_cycle_across_branches() -> None:
    data = {
        "name": "t",
        "owner": "alice",
        "branches": [
            {
                "key": "main",
                "steps": [auto("a"), auto("b", conditions=[ncm("P0D", {"goto_branch": "other"})])],
            },
            {"key": "other", "steps": [auto("c", conditions=[ncm("PT0S", {"goto_step": "a"})])]},
        ],
    }
    assert error_of(data).endswith("cycle of moves that all happen at once: a -> b -> c -> a")


def test_reports_a_cycle_once() -> None:
    data = one_branch(auto("a"), auto("b", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert len(error_of(data).splitlines()) == 1


def test_a_non_zero_delay_breaks_a_cycle() -> None:
    data = one_branch(auto("a"), auto("b", delay="PT1S", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert Template.from_json(data)


def test_a_non_zero_within_breaks_a_cycle() -> None:
    data = one_branch(auto("a"), auto("b", conditions=[ncm("PT1M", {"goto_step": "a"})]))
    assert Template.from_json(data)


def test_a_manual_step_breaks_a_cycle() -> None:
    data = one_branch(auto("a"), task("t"), auto("b", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert Template.from_json(data)


def test_engagement_moves_do_not_form_an_instant_cycle() -> None:
    conditions = [{"when": "opened", "then": {"goto_step": "a"}}, ncm("P1D", {"next": True})]
    assert Template.from_json(one_branch(auto("a", conditions=conditions)))


def test_a_zero_time_chain_that_ends_is_accepted() -> None:
    assert Template.from_json(one_branch(auto("a"), auto("b"), auto("c")))
