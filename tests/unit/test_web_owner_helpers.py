"""The owner pages' pure pieces: the editor form ↔ template JSON, where a 422 is shown, the drawings' numbers."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict, MultiDictProxy
from pydantic import ValidationError

from seqflow.domain.errors import validation_issues
from seqflow.domain.template import Template
from seqflow_tasks.web.owner_form import error_place, error_text, form_model, template_from_form
from seqflow_tasks.web.owner_svg import bars, branch_map
from seqflow_tasks.web.page_owner_activate import activation_from_form

MAIL = {"from_alias": "a@x.example", "subject": "Hi", "body": "Hello\n{{first_name}}"}
TWO_BRANCHES: dict[str, Any] = {"name": "T", "owner": "alice", "branches": [
    {"key": "main", "steps": [
        {"key": "intro", "type": "auto_email", "delay": "PT1H", "email": MAIL, "conditions": [
            {"when": "replied", "then": {"goto_branch": "engaged"}},
            {"when": "no_condition_met", "within": "P2D", "then": {"next": True}}]},
        {"key": "text", "type": "auto_sms", "sms": {"body": "Hi"}},
        {"key": "call", "type": "call", "priority": "high", "instructions": "Ask", "script": "Hi {{first_name}}",
         "conditions": [{"when": "Connected", "then": {"complete": True}},
                        {"when": "Wrong number", "then": {"exit": "bad number"}},
                        {"when": "Voicemail", "then": {"goto_step": "text"}}]}]},
    {"key": "engaged", "steps": [{"key": "book", "type": "task"}]}]}  # fmt: skip


def form_of(template: dict[str, Any]) -> list[tuple[str, str]]:
    """What the rendered editor posts: every input named by its path, `then` as kind and target."""
    model = form_model(template)
    out = [("name", model["name"]), ("owner", model["owner"])]
    for bi, b in enumerate(model["branches"]):
        out.append((f"branches[{bi}].key", b["key"]))
        for si, s in enumerate(b["steps"]):
            sp = f"branches[{bi}].steps[{si}]"
            out += [(f"{sp}.{k}", str(s[k])) for k in ("key", "type", "delay", "priority", "instructions", "script")
                    if k in s]  # fmt: skip
            out += [(f"{sp}.email.{k}", v) for k, v in (s.get("email") or {}).items()]
            out += [(f"{sp}.sms.body", s["sms"]["body"])] if "sms" in s else []
            for ci, c in enumerate(s["conditions"]):
                cp = f"{sp}.conditions[{ci}]"
                out += [(f"{cp}.when", c["when"]), (f"{cp}.within", c.get("within", "")),
                        (f"{cp}.then_kind", c["then_kind"]), (f"{cp}.then_target", c["then_target"])]  # fmt: skip
    return out


def test_the_editor_form_gives_back_the_template_it_was_drawn_from() -> None:
    assert Template.model_validate(template_from_form(form_of(TWO_BRANCHES))) == Template.model_validate(TWO_BRANCHES)


def test_blank_fields_are_left_out_so_the_api_names_what_is_missing() -> None:
    form = [("name", "T"), ("owner", "a"), ("branches[0].key", "main"), ("branches[0].steps[0].key", "intro"),
            ("branches[0].steps[0].type", "auto_email"), ("branches[0].steps[0].email.from_alias", "a@x"),
            ("branches[0].steps[0].email.subject", "  "), ("branches[0].steps[0].delay", "")]  # fmt: skip
    doc = template_from_form(form)
    assert doc["branches"][0]["steps"][0] == {"key": "intro", "type": "auto_email", "email": {"from_alias": "a@x"}}
    with pytest.raises(ValidationError) as caught:
        Template.model_validate(doc)
    field, _ = validation_issues(caught.value)[0]
    assert error_place(field, form_model(doc)) == "branches[0].steps[0].email.subject"


def test_content_of_another_channel_is_not_sent_for_a_step_type() -> None:
    step = "branches[0].steps[0]"
    form = [("branches[0].key", "m"), (f"{step}.key", "c"), (f"{step}.type", "call"),
            (f"{step}.email.subject", "left over"), (f"{step}.sms.body", "left over")]  # fmt: skip
    assert template_from_form(form)["branches"][0]["steps"][0] == {"key": "c", "type": "call"}


def test_rows_are_ordered_by_their_index_not_by_the_order_posted() -> None:
    form = [("branches[1].key", "second"), ("branches[1].steps[0].key", "b"), ("branches[0].key", "first"),
            ("branches[0].steps[1].key", "a2"), ("branches[0].steps[0].key", "a1")]  # fmt: skip
    doc = template_from_form(form)
    assert [(b["key"], [s["key"] for s in b["steps"]]) for b in doc["branches"]] == [
        ("first", ["a1", "a2"]), ("second", ["b"])]  # fmt: skip


@pytest.mark.parametrize(("field", "place"), [
    ("branches[0].steps[0].conditions[0].then.goto_branch", "branches[0].steps[0].conditions[0].then_target"),
    ("branches[0].steps[2].conditions[1].then.exit", "branches[0].steps[2].conditions[1].then_target"),
    ("branches[0].steps[0].conditions[1].then", "branches[0].steps[0].conditions[1].then_kind"),
    ("branches[0].steps[0].email", "branches[0].steps[0].email"),
    ("branches[0].steps[1].delay", "branches[0].steps[1].delay"),
    ("branches[1].steps", "branches[1].steps"),
    ("branches[0].steps[9].key", "branches[0].steps"),  # a step the page does not have: its list
    ("name", "name"),
    ("nowhere", ""),
])  # fmt: skip
def test_a_422_field_is_shown_at_the_deepest_input_or_group_it_falls_under(field: str, place: str) -> None:
    assert error_place(field, form_model(TWO_BRANCHES)) == place


def test_the_message_shown_is_the_part_about_that_field() -> None:
    message = "branches[0].key: must not be blank; branches[0].steps[0].delay: not a duration"
    assert error_text(message, "branches[0].steps[0].delay") == "not a duration"
    assert error_text("something else entirely", "x") == "something else entirely"


def test_the_branch_map_draws_every_goto_from_its_step_to_its_target() -> None:
    drawing = branch_map(form_model(TWO_BRANCHES))
    assert [(a["source"], a["target"], a["label"]) for a in drawing["arrows"]] == [
        ("intro", "book", "replied"), ("call", "text", "Voicemail")]  # fmt: skip
    assert [b["key"] for b in drawing["boxes"]] == ["intro", "text", "call", "book"]
    assert len(drawing["lanes"]) == 2 and drawing["height"] > drawing["boxes"][-1]["y"]


def test_bars_stack_each_kind_and_keep_every_count() -> None:
    chart = bars([{"day": "2026-12-01", "email": 3, "sms": 1}, {"day": "2026-12-03", "email": 0, "sms": 2}],
                 ("email", "sms"), height=100)  # fmt: skip
    first, empty, _ = chart["columns"]  # the quiet day between has its own (empty) column
    assert [(p["kind"], p["count"]) for p in first["parts"]] == [("email", 3), ("sms", 1)]
    assert first["parts"][0]["y"] + first["parts"][0]["h"] == chart["base"] and empty["parts"] == []
    assert chart["top"] == 4 and [c["day"] for c in chart["columns"]] == ["2026-12-01", "2026-12-02", "2026-12-03"]


def form(*pairs: tuple[str, str]) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(pairs))


def test_the_activation_form_leaves_out_blank_optional_fields() -> None:
    body = activation_from_form(form(("name", " Q4 "), ("rollup_id", "r1"), ("begin", "2026-12-01"), ("end", ""),
                                     ("timezone", "UTC"), ("primary_user", "alice"), ("team_members", " bob, ,carol"),
                                     ("email_count", ""), ("email_per", "PT1H")), "t1")  # fmt: skip
    assert body == {"name": "Q4", "rollup_id": "r1", "begin": "2026-12-01", "timezone": "UTC",
                    "primary_user": "alice", "template_id": "t1", "team_members": ["bob", "carol"]}  # fmt: skip


def test_the_activation_form_carries_days_window_limits_and_the_alias_answer() -> None:
    body = activation_from_form(form(("name", "Q4"), ("send_days", "mon"), ("send_days", "fri"),
                                     ("window_start", "08:00"), ("window_stop", "17:00"), ("sms_count", "20"),
                                     ("sms_per", "PT1H"), ("rewrite_aliases", "true")), "t1")  # fmt: skip
    assert body["send_days"] == ["mon", "fri"] and body["send_window"] == {"start": "08:00", "stop": "17:00"}
    assert body["rate_limits"] == {"sms": {"count": "20", "per": "PT1H"}} and body["rewrite_aliases"] is True
    assert "rollup_id" not in body  # blank: the API answers 422 naming it
