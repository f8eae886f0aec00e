"""`seqflow simulate` rule by rule (SPEC §6, §8): `unsubscribed` exits at that very instant; hard bounces.

Hand-worked scenarios and their exact output.
Unless a test says otherwise: America/New_York in December (EST = UTC−5), Mon–Fri 08:00–17:00 local
(= 13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST), contact c1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.rules_scenarios import (
    ACTIVATED,
    ENGAGED,
    REPLY_FLOW,
    cond,
    contact,
    email,
    ev,
    reply_flow,
    rows,
    scenario,
    simulate,
    task,
)

from seqflow.rules.simulate import Scenario, build_runtime, main
from seqflow.rules.state import VISIBLE, Input

CALL_THEN_FOLLOW = [task("call", "PT0S", cond("Done", {"next": True})), task("follow")]
WAIT_THEN_CALL = [
    email("intro", "PT0S", cond("replied", {"exit": "replied"}), cond("no_condition_met", {"next": True}, "P3D")),
    task("call", kind="call"),
]


def test_an_unsubscribe_outside_the_window_exits_at_that_instant() -> None:
    # sent Tue 14:00Z, Waiting…; unsubscribed Tue 23:30Z (18:30 EST, closed) → exited 23:30Z, not Wed 13:00Z
    data = reply_flow(events=[ev("2026-12-01T23:30:00Z", "unsubscribed", "c1")])
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T23:30:00Z", "c1", "intro", "exited"),
    ]


def test_an_unsubscribe_while_the_sequence_is_paused_exits_and_nothing_comes_back_at_resume() -> None:
    # call shown 14:00Z; paused 15:00Z; unsubscribed 16:00Z → exited 16:00Z; resume 17:00Z shows nothing
    data = scenario(
        CALL_THEN_FOLLOW,
        events=[
            ev("2026-12-01T15:00:00Z", "pause"),
            ev("2026-12-01T16:00:00Z", "unsubscribed", "c1"),
            ev("2026-12-01T17:00:00Z", "resume"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-01T16:00:00Z", "c1", "call", "exited"),
    ]


def test_an_unsubscribe_while_removed_from_the_rollup_exits_and_a_re_add_sends_nothing() -> None:
    # intro due 16:00Z; removed 15:00Z; unsubscribed 15:30Z → exited; added back 16:30Z: no send
    data = scenario(
        [email("intro", "PT2H")],
        events=[
            ev("2026-12-01T15:00:00Z", "member_removed", "c1"),
            ev("2026-12-01T15:30:00Z", "unsubscribed", "c1"),
            ev("2026-12-01T16:30:00Z", "member_added", "c1"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T15:30:00Z", "c1", "intro", "exited"),
    ]


def test_a_contact_unsubscribed_before_it_was_added_never_enters() -> None:
    # c2 unsubscribes Tue 15:00Z, is added 16:00Z: ignored with a warning; c1 is untouched
    data = scenario(
        [email("intro")],
        later=["c2"],
        events=[ev("2026-12-01T15:00:00Z", "unsubscribed", "c2"), ev("2026-12-01T16:00:00Z", "member_added", "c2")],
    )
    out, warnings = simulate(data)
    assert out == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "completed"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
    ]
    assert warnings == [
        "ignored member_added at 2026-12-01T16:00:00Z for c2: the contact unsubscribed before it entered"
    ]


def test_a_contact_on_the_rollup_that_unsubscribes_before_begin_never_enters() -> None:
    # begin Wed 12-02 (00:00 EST = 05:00Z), resumed Tue 15:00Z; c1 unsubscribes Tue 16:00Z; c2 enters at begin
    # and is sent at Wed 13:00Z (08:00 EST)
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2"],
        begin="2026-12-02",
        events=[ev("2026-12-01T15:00:00Z", "resume"), ev("2026-12-01T16:00:00Z", "unsubscribed", "c1")],
    )
    assert rows(data) == [
        ("2026-12-02T05:00:00Z", "c2", "intro", "entered"),
        ("2026-12-02T13:00:00Z", "c2", "intro", "completed"),
        ("2026-12-02T13:00:00Z", "c2", "intro", "email_sent"),
    ]


def test_an_unsubscribe_in_the_second_of_entry_comes_after_the_entry_and_the_send() -> None:
    # added Tue 15:00Z and unsubscribed 15:00Z: entries and sends rank before external events (§4.1)
    data = scenario(
        [email("intro", "PT0S", cond("replied", {"exit": "replied"}), cond("no_condition_met", {"next": True}, "P1D"))],
        contacts=[],
        later=["c2"],
        events=[ev("2026-12-01T15:00:00Z", "member_added", "c2"), ev("2026-12-01T15:00:00Z", "unsubscribed", "c2")],
    )
    assert rows(data) == [
        ("2026-12-01T15:00:00Z", "c2", "intro", "email_sent"),
        ("2026-12-01T15:00:00Z", "c2", "intro", "entered"),
        ("2026-12-01T15:00:00Z", "c2", "intro", "exited"),
    ]


def test_a_move_landing_in_the_second_of_the_unsubscribe_lands_first() -> None:
    # Done Tue 23:00Z (closed) → lands Wed 13:00Z on follow (task shown); unsubscribed Wed 13:00Z → exits there
    data = scenario(
        CALL_THEN_FOLLOW,
        events=[
            ev("2026-12-01T23:00:00Z", "outcome", "c1", "call", outcome="Done"),
            ev("2026-12-02T13:00:00Z", "unsubscribed", "c1"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-02T13:00:00Z", "c1", "follow", "exited"),
        ("2026-12-02T13:00:00Z", "c1", "follow", "task_due"),
    ]


def test_an_unsubscribe_before_a_pending_move_lands_exits_on_the_old_step_and_the_move_never_lands() -> None:
    # Done Tue 23:00Z → would land Wed 13:00Z; unsubscribed Wed 03:00Z (22:00 EST Tue) → exited at call
    data = scenario(
        CALL_THEN_FOLLOW,
        events=[
            ev("2026-12-01T23:00:00Z", "outcome", "c1", "call", outcome="Done"),
            ev("2026-12-02T03:00:00Z", "unsubscribed", "c1"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-02T03:00:00Z", "c1", "call", "exited"),
    ]


def test_a_waiting_deadline_in_the_second_of_the_unsubscribe_moves_first() -> None:
    # sent Tue 14:00Z, deadline Fri 14:00Z → call shown 14:00Z; unsubscribed Fri 14:00Z → exited at call
    data = scenario(WAIT_THEN_CALL, events=[ev("2026-12-04T14:00:00Z", "unsubscribed", "c1")])
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-04T14:00:00Z", "c1", "call", "exited"),
        ("2026-12-04T14:00:00Z", "c1", "call", "task_due"),
    ]


def test_a_send_in_the_second_of_the_unsubscribe_goes_out_before_the_exit() -> None:
    # intro due Tue 16:00Z (PT2H); unsubscribed 16:00Z: sends rank before external events
    data = scenario(
        [email("intro", "PT2H"), email("bump", "P1D")], events=[ev("2026-12-01T16:00:00Z", "unsubscribed", "c1")]
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T16:00:00Z", "c1", "bump", "exited"),
        ("2026-12-01T16:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_a_send_waiting_at_the_rate_limiter_is_dropped_by_an_unsubscribe() -> None:
    # limit 1/h: c1 sent 14:00Z, c2 waits for 15:00Z; c2 unsubscribes 14:30Z → exited, c3 takes the 15:00Z slot
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2", "c3"],
        rate_limits={"email": {"count": 1, "per": "PT1H"}},
        events=[ev("2026-12-01T14:30:00Z", "unsubscribed", "c2")],
        until="2026-12-01T15:30:00Z",
    )
    assert [r for r in rows(data) if r[3] != "entered"] == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "completed"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:30:00Z", "c2", "intro", "exited"),
        ("2026-12-01T15:00:00Z", "c3", "intro", "completed"),
        ("2026-12-01T15:00:00Z", "c3", "intro", "email_sent"),
    ]


def test_an_unsubscribe_on_a_failed_send_waiting_for_retry_exits() -> None:
    # blank email: intro fails at 14:00Z (error task); unsubscribed Tue 23:00Z (closed) → exited 23:00Z
    data = scenario(
        [email("intro")], contacts=[contact("c1", email=" ")], events=[ev("2026-12-01T23:00:00Z", "unsubscribed", "c1")]
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "send_failed"),
        ("2026-12-01T23:00:00Z", "c1", "intro", "exited"),
    ]


def test_the_command_line_accepts_the_unsubscribed_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(reply_flow(events=[ev("2026-12-01T23:30:00Z", "unsubscribed", "c1")])))
    assert main([str(path)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[-1] == {"at": "2026-12-01T23:30:00Z", "contact": "c1", "step": "intro", "action": "exited"}


def test_an_unsubscribe_after_the_enrollment_finished_is_ignored_with_a_warning() -> None:
    data = scenario([email("intro")], events=[ev("2026-12-01T15:00:00Z", "unsubscribed", "c1")])
    out, warnings = simulate(data)
    assert out[-1] == ("2026-12-01T14:00:00Z", "c1", "intro", "entered")
    assert warnings == ["ignored unsubscribed at 2026-12-01T15:00:00Z for c1: the enrollment has already completed"]


def test_an_unsubscribe_of_an_unknown_contact_is_ignored_with_a_warning() -> None:
    _, warnings = simulate(scenario([email("intro")], events=[ev("2026-12-01T15:00:00Z", "unsubscribed", "zz")]))
    assert warnings == ["ignored unsubscribed at 2026-12-01T15:00:00Z for zz: unknown contact 'zz'"]


def test_an_unsubscribed_event_without_a_contact_fails_validation() -> None:
    data = scenario([email("intro")], events=[ev("2026-12-01T15:00:00Z", "unsubscribed")])
    try:
        Scenario.model_validate(data)
    except ValueError as exc:
        assert "a unsubscribed event needs 'contact'" in str(exc)
    else:
        raise AssertionError("an unsubscribed event without a contact was accepted")


# ---- live inputs: the suppression list, and dispatch results as the scheduler's intake turns them into inputs


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def visible(actions: list) -> list[tuple[str, str, str | None, str]]:  # type: ignore[type-arg]
    return sorted((a.at.strftime("%H:%M"), a.contact, a.step, a.action) for a in actions if a.action in VISIBLE)


def test_a_send_found_suppressed_exits_at_that_instant_without_sending() -> None:
    # entered Tue 14:00Z, intro due 16:00Z; c1's address goes on the suppression list at 15:00Z → exited 16:00Z
    rt = build_runtime(Scenario.model_validate(scenario([email("intro", "PT2H")])))
    rt.advance(at("2026-12-01T15:00:00Z"))
    rt.suppressed = {"c1@x.example"}
    rt.advance(at("2026-12-01T23:00:00Z"))
    assert visible(rt.actions) == [("14:00", "c1", "intro", "entered"), ("16:00", "c1", "intro", "exited")]
    assert [a.detail for a in rt.actions if a.action == "exited"] == [{"reason": "unsubscribed"}]


def test_a_contact_whose_address_is_suppressed_when_added_never_enters() -> None:
    rt = build_runtime(Scenario.model_validate(scenario([email("intro")], contacts=["c1", "c2"])))
    rt.suppressed = {"+15550002"}
    rt.contacts["c2"]["phone"] = "+15550002"
    rt.advance(at("2026-12-01T23:00:00Z"))
    assert {(a.contact, a.action) for a in rt.actions if a.action in VISIBLE} == {
        ("c1", "entered"), ("c1", "email_sent"), ("c1", "completed"),
    }  # fmt: skip
    assert rt.enr["c2"].status == "exited" and rt.enr["c2"].entered_at is None


def test_a_hard_bounce_result_fires_the_bounced_condition_at_the_result_instant() -> None:
    # sent Tue 14:00Z; the provider's refusal is reported at 14:00:40Z → exited 14:00:40Z
    template = [email("intro", "PT0S", cond("bounced", {"exit": "bounced"}), cond("no_condition_met", {"next": True},
                "P1D")), task("call")]  # fmt: skip
    rt = build_runtime(Scenario.model_validate(scenario(template)))
    rt.advance(at("2026-12-01T14:00:00Z"))
    rt.submit(Input(at("2026-12-01T14:00:40Z"), "bounced", "c1", "intro"))
    rt.advance(at("2026-12-03T00:00:00Z"))
    exits = [(a.at, a.step, a.detail) for a in rt.actions if a.action == "exited"]
    assert exits == [(at("2026-12-01T14:00:40Z"), "intro", {"reason": "bounced"})]


def test_a_hard_bounce_outside_the_window_moves_at_the_next_open_instant() -> None:
    # sent Tue 14:00Z with a P2D deadline; bounce reported Tue 23:00Z (closed) → call shown Wed 13:00Z
    template = [email("intro", "PT0S", cond("bounced", {"goto_step": "call"}), cond("no_condition_met", {"next": True},
                "P2D")), task("other"), task("call")]  # fmt: skip
    data = scenario(template, events=[ev("2026-12-01T23:00:00Z", "bounced", "c1", "intro")])
    assert rows(data)[-1] == ("2026-12-02T13:00:00Z", "c1", "call", "task_due")


def test_a_suppressed_result_is_an_unsubscribe_that_exits_at_the_result_instant() -> None:
    rt = build_runtime(Scenario.model_validate(scenario(WAIT_THEN_CALL)))
    rt.advance(at("2026-12-01T14:00:00Z"))
    rt.submit(Input(at("2026-12-01T23:10:00Z"), "unsubscribed", "c1"))  # a send skipped as suppressed
    rt.advance(at("2026-12-05T00:00:00Z"))
    assert visible(rt.actions)[-1] == ("23:10", "c1", "intro", "exited")


# ---- property: an unsubscribe changes nothing before its instant and ends the contact at it ----------

FINISH = ("completed", "exited", "ended")


def iso(minutes: int) -> str:
    return (at(ACTIVATED) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


FLOWS = {"reply": (REPLY_FLOW, ENGAGED), "task": (CALL_THEN_FOLLOW,), "wait": (WAIT_THEN_CALL,)}


@settings(max_examples=200, deadline=None)
@given(
    flow=st.sampled_from(sorted(FLOWS)),
    t=st.integers(0, 6 * 24 * 60),
    pause=st.none() | st.tuples(st.integers(0, 4 * 24 * 60), st.integers(1, 2 * 24 * 60)),
    removal=st.none() | st.tuples(st.integers(0, 4 * 24 * 60), st.integers(1, 2 * 24 * 60)),
    engaged=st.none() | st.integers(0, 4 * 24 * 60),
)
def test_an_unsubscribe_changes_nothing_before_its_instant_and_exits_at_it(
    flow: str, t: int, pause: tuple[int, int] | None, removal: tuple[int, int] | None, engaged: int | None
) -> None:
    events = []
    if engaged is not None:  # a click on intro, or Done on call: whichever the flow has
        events.append(ev(iso(engaged), "outcome", "c1", "call", outcome="Done") if flow == "task"
                      else ev(iso(engaged), "clicked", "c1", "intro"))  # fmt: skip
    if pause is not None:
        events += [ev(iso(pause[0]), "pause"), ev(iso(pause[0] + pause[1]), "resume")]
    if removal is not None:
        events += [ev(iso(removal[0]), "member_removed", "c1"), ev(iso(removal[0] + removal[1]), "member_added", "c1")]
    kw = {"contacts": ["c1", "c2"], "rate_limits": {"email": {"count": 1, "per": "PT1H"}}, "until": iso(9 * 1440)}
    before = rows(scenario(*FLOWS[flow], events=events, **kw))
    after = rows(scenario(*FLOWS[flow], events=[*events, ev(iso(t), "unsubscribed", "c1")], **kw))
    when = iso(t)
    assert [r for r in after if r[0] < when] == [r for r in before if r[0] < when]
    mine = [r for r in after if r[1] == "c1"]
    assert all(r[0] <= when for r in mine)
    finished_by_then = [r for r in before if r[1] == "c1" and r[3] in FINISH and r[0] <= when]
    if not any(r[3] == "entered" for r in mine):
        assert mine == []  # unsubscribed before it entered (a pause held the entry): it never enters
    elif not finished_by_then:
        assert [(r[0], r[3]) for r in mine if r[3] in FINISH] == [(when, "exited")]
