"""`seqflow simulate` rule by rule (SPEC §4, §4.1, §8): hand-worked scenarios and their exact output.

Unless a test says otherwise: America/New_York in December (EST = UTC−5), Mon–Fri 08:00–17:00 local
(= 13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST), contact c1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pytest

from seqflow.rules.simulate import Scenario, lines, run

Row = tuple[str, str, str | None, str]
MAIL = {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}
ACTIVATED = "2026-12-01T14:00:00Z"


# ---- builders ------------------------------------------------------------------------------


def cond(when: str, then: dict[str, Any], within: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"when": when, "then": then}
    if within is not None:
        c["within"] = within
    return c


def email(key: str, delay: str = "PT0S", *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "type": "auto_email", "delay": delay, "email": MAIL, "conditions": list(conditions)}


def sms(key: str, delay: str = "PT0S", *conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "type": "auto_sms",
        "delay": delay,
        "sms": {"body": "Hi"},
        "conditions": list(conditions),
    }


def task(key: str, delay: str = "PT0S", *conditions: dict[str, Any], kind: str = "task") -> dict[str, Any]:
    return {"key": key, "type": kind, "delay": delay, "conditions": list(conditions)}


def contact(cid: str, **fields: Any) -> dict[str, Any]:
    return {"id": cid, "first_name": cid.upper(), "email": f"{cid}@x.example", "phone": "+15550001"} | fields


def ev(at: str, type_: str, contact_: str | None = None, step: str | None = None, **more: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"at": at, "type": type_}
    if contact_ is not None:
        e["contact"] = contact_
    if step is not None:
        e["step"] = step
    return e | more


def scenario(
    *branches: list[dict[str, Any]],
    contacts: list[Any] | None = None,
    later: Sequence[Any] = (),
    events: Sequence[dict[str, Any]] = (),
    until: str = "2026-12-31T00:00:00Z",
    activated_at: str = ACTIVATED,
    **activation: Any,
) -> dict[str, Any]:
    """Branches are lists of steps, named main, b2, b3…; a contact given as a string gets an address."""
    names = ["main", "engaged", "b3", "b4"]
    act = {
        "name": "Python Q4 – Alice",
        "begin": "2026-12-01",
        "send_days": ["mon", "tue", "wed", "thu", "fri"],
        "send_window": {"start": "08:00", "stop": "17:00"},
        "timezone": "America/New_York",
        "primary_user": "alice",
    } | activation
    return {
        "template": {
            "name": "t",
            "owner": "alice",
            "branches": [{"key": names[i], "steps": b} for i, b in enumerate(branches)],
        },
        "activation": {k: v for k, v in act.items() if v is not None},
        "activated_at": activated_at,
        "contacts": [contact(c) if isinstance(c, str) else c for c in (["c1"] if contacts is None else contacts)],
        "later_contacts": [contact(c) if isinstance(c, str) else c for c in later],
        "events": list(events),
        "until": until,
    }


def simulate(data: dict[str, Any]) -> tuple[list[Row], list[str]]:
    actions, warnings = run(Scenario.model_validate(data))
    rows = [(a.at.strftime("%Y-%m-%dT%H:%M:%SZ"), a.contact, a.step, a.action) for a in actions]
    return rows, warnings


def rows(data: dict[str, Any]) -> list[Row]:
    return simulate(data)[0]


REPLY_FLOW = [
    email(
        "intro",
        "PT0S",
        cond("replied", {"goto_branch": "engaged"}),
        cond("clicked", {"goto_step": "call"}),
        cond("no_condition_met", {"next": True}, within="P3D"),
    ),
    sms("bump"),
    task("call", kind="call"),
]
ENGAGED = [task("book")]


def reply_flow(**kw: Any) -> dict[str, Any]:
    return scenario(REPLY_FLOW, ENGAGED, **kw)


# ---- send days and window ------------------------------------------------------------------


def test_a_step_due_on_saturday_waits_for_monday_morning() -> None:
    # intro sent Fri 12-04 14:00Z; bump P1D → Sat 12-05 14:00Z, not a send day → Mon 12-07 08:00 EST = 13:00Z;
    # then the end of the branch: completed at next_open(13:00Z) = 13:00Z
    data = scenario([email("intro"), sms("bump", "P1D")], activated_at="2026-12-04T14:00:00Z")
    assert rows(data) == [
        ("2026-12-04T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-04T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-07T13:00:00Z", "c1", "bump", "completed"),
        ("2026-12-07T13:00:00Z", "c1", "bump", "sms_sent"),
    ]


def test_activation_after_stop_enters_at_once_and_sends_the_next_morning_at_start() -> None:
    # Tue 23:00Z = 18:00 EST: entry is not held to the window; the send is → Wed 08:00 EST = 13:00Z
    data = scenario([email("intro")], activated_at="2026-12-01T23:00:00Z")
    assert rows(data) == [
        ("2026-12-01T23:00:00Z", "c1", "intro", "entered"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "completed"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_without_days_and_window_every_instant_is_open() -> None:
    # Sat 2026-12-05 03:00Z (22:00 EST Fri) sends at once
    data = scenario([email("intro")], activated_at="2026-12-05T03:00:00Z", send_days=None, send_window=None)
    assert rows(data) == [
        ("2026-12-05T03:00:00Z", "c1", "intro", "completed"),
        ("2026-12-05T03:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-05T03:00:00Z", "c1", "intro", "entered"),
    ]


def test_a_zero_delay_chain_runs_within_one_instant() -> None:
    # send at 14:00Z → move lands at 14:00Z → the task (delay 0) appears at 14:00Z (§4.1)
    data = scenario([email("intro"), task("call", kind="call")])
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
    ]


# ---- the rate limiter ----------------------------------------------------------------------

LIMIT_2_PER_HOUR = {"email": {"count": 2, "per": "PT1H"}}


def test_more_contacts_than_the_limit_send_in_contact_id_order_as_strings() -> None:
    # 5 due at 14:00Z, 2 per hour; order by id as strings: c1 < c10 < c2 < c3 < c4
    # → c1, c10 at 14:00; c2, c3 at 15:00 (14:00 leaves (t − 1 h, t]); c4 at 16:00
    data = scenario([email("intro")], contacts=["c1", "c2", "c3", "c4", "c10"], rate_limits=LIMIT_2_PER_HOUR)
    sent = [(at, c) for at, c, _, a in rows(data) if a == "email_sent"]
    assert sent == [
        ("2026-12-01T14:00:00Z", "c1"),
        ("2026-12-01T14:00:00Z", "c10"),
        ("2026-12-01T15:00:00Z", "c2"),
        ("2026-12-01T15:00:00Z", "c3"),
        ("2026-12-01T16:00:00Z", "c4"),
    ]


def test_the_limiter_grants_by_due_time_before_contact_id() -> None:
    # 1 per hour. c3 sends at 14:00Z; c2 is added at 14:10Z, c1 at 14:20Z: both wait.
    # At 15:00Z c2 (due 14:10) goes before c1 (due 14:20); c1 at 16:00Z.
    data = scenario(
        [email("intro")],
        contacts=["c3"],
        later=["c1", "c2"],
        events=[
            ev("2026-12-01T14:20:00Z", "member_added", "c1"),
            ev("2026-12-01T14:10:00Z", "member_added", "c2"),
        ],
        rate_limits={"email": {"count": 1, "per": "PT1H"}},
    )
    sent = [(at, c) for at, c, _, a in rows(data) if a == "email_sent"]
    assert sent == [
        ("2026-12-01T14:00:00Z", "c3"),
        ("2026-12-01T15:00:00Z", "c2"),
        ("2026-12-01T16:00:00Z", "c1"),
    ]


def test_a_rate_limited_send_that_reaches_stop_waits_for_the_next_open_instant() -> None:
    # 1 per hour from Tue 21:00Z (16:00 EST): c1 at 21:00Z; c2's slot would be 22:00Z = 17:00 EST (stop,
    # closed) → Wed 13:00Z; c3 then one hour later, 14:00Z
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2", "c3"],
        activated_at="2026-12-01T21:00:00Z",
        rate_limits={"email": {"count": 1, "per": "PT1H"}},
    )
    sent = [(at, c) for at, c, _, a in rows(data) if a == "email_sent"]
    assert sent == [
        ("2026-12-01T21:00:00Z", "c1"),
        ("2026-12-02T13:00:00Z", "c2"),
        ("2026-12-02T14:00:00Z", "c3"),
    ]


def test_a_removed_contacts_send_does_not_hold_back_the_others() -> None:
    # 1 per hour; c1 is removed at 14:00Z (before sends at that instant) so c2 gets the 14:00Z slot;
    # c1 added back at 14:30Z waits for 15:00Z
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2"],
        events=[
            ev("2026-12-01T14:00:00Z", "member_removed", "c1"),
            ev("2026-12-01T14:30:00Z", "member_added", "c1"),
        ],
        rate_limits={"email": {"count": 1, "per": "PT1H"}},
    )
    sent = [(at, c) for at, c, _, a in rows(data) if a == "email_sent"]
    assert sent == [("2026-12-01T14:00:00Z", "c2"), ("2026-12-01T15:00:00Z", "c1")]


def test_a_blank_address_takes_its_turn_but_uses_no_slot() -> None:
    # 1 per hour; c1 (email blank) comes first at 14:00Z and fails; c2 still gets the 14:00Z slot
    data = scenario(
        [email("intro")],
        contacts=[contact("c1", email="   "), "c2"],
        rate_limits={"email": {"count": 1, "per": "PT1H"}},
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "send_failed"),
        ("2026-12-01T14:00:00Z", "c2", "intro", "completed"),
        ("2026-12-01T14:00:00Z", "c2", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c2", "intro", "entered"),
    ]


# ---- begin and end -------------------------------------------------------------------------


def test_a_future_begin_without_resume_does_nothing() -> None:
    # begin Thu 12-03 > activation: the sequence starts paused and nobody enters
    assert rows(scenario([email("intro")], begin="2026-12-03")) == []


def test_a_resume_before_begin_lets_contacts_enter_at_begin() -> None:
    # resume Wed 15:00Z; begin Thu 12-03 00:00 EST = 05:00Z: entry there (not held to the window),
    # the send at 08:00 EST = 13:00Z
    data = scenario([email("intro")], begin="2026-12-03", events=[ev("2026-12-02T15:00:00Z", "resume")])
    assert rows(data) == [
        ("2026-12-03T05:00:00Z", "c1", "intro", "entered"),
        ("2026-12-03T13:00:00Z", "c1", "intro", "completed"),
        ("2026-12-03T13:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_a_resume_after_begin_lets_contacts_enter_at_the_resume() -> None:
    # begin Thu 05:00Z passes while paused; resume Fri 12-04 15:00Z → entry and send at 15:00Z
    data = scenario([email("intro")], begin="2026-12-03", events=[ev("2026-12-04T15:00:00Z", "resume")])
    assert rows(data) == [
        ("2026-12-04T15:00:00Z", "c1", "intro", "completed"),
        ("2026-12-04T15:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-04T15:00:00Z", "c1", "intro", "entered"),
    ]


def test_the_end_date_ends_every_entered_unfinished_enrollment_on_its_step() -> None:
    # end 2026-12-02 = Thu 12-03 00:00 EST = 05:00Z. c1 waits on intro (deadline Fri 14:00Z, never reached);
    # c2 replied and finished in the engaged branch; c3 failed (blank) and is still on intro.
    data = scenario(
        REPLY_FLOW,
        [task("book", "PT0S", cond("Booked", {"complete": True}))],
        contacts=["c1", "c2", contact("c3", email=None)],
        end="2026-12-02",
        events=[
            ev("2026-12-01T15:00:00Z", "replied", "c2", "intro"),
            ev("2026-12-01T16:00:00Z", "outcome", "c2", "book", outcome="Booked"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T14:00:00Z", "c2", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c2", "intro", "entered"),
        ("2026-12-01T14:00:00Z", "c3", "intro", "entered"),
        ("2026-12-01T14:00:00Z", "c3", "intro", "send_failed"),
        ("2026-12-01T15:00:00Z", "c2", "book", "task_due"),
        ("2026-12-01T16:00:00Z", "c2", "book", "completed"),
        ("2026-12-03T05:00:00Z", "c1", "intro", "ended"),
        ("2026-12-03T05:00:00Z", "c3", "intro", "ended"),
    ]


def test_an_end_event_ends_the_sequence_and_later_events_are_ignored() -> None:
    # c1 waits on intro; End Sequence Wed 15:00Z → ended on intro; the reply after it does nothing
    data = reply_flow(events=[ev("2026-12-02T15:00:00Z", "end"), ev("2026-12-02T16:00:00Z", "replied", "c1", "intro")])
    out, warnings = simulate(data)
    assert out == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-02T15:00:00Z", "c1", "intro", "ended"),
    ]
    assert len(warnings) == 1 and "replied" in warnings[0]


def test_an_end_at_the_instant_a_send_falls_due_stops_the_send() -> None:
    # intro due 14:00Z + PT2H = 16:00Z; End Sequence at 16:00Z comes first at that instant (§4.1)
    data = scenario([email("intro", "PT2H")], events=[ev("2026-12-01T16:00:00Z", "end")])
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T16:00:00Z", "c1", "intro", "ended"),
    ]


def test_the_earlier_of_end_setting_and_end_event_ends_the_sequence() -> None:
    # end setting Thu 05:00Z, End Sequence Wed 15:00Z → ended Wed 15:00Z, once
    data = reply_flow(end="2026-12-02", events=[ev("2026-12-02T15:00:00Z", "end")])
    assert rows(data)[-1:] == [("2026-12-02T15:00:00Z", "c1", "intro", "ended")]
    assert [r for r in rows(data) if r[3] == "ended"] == [("2026-12-02T15:00:00Z", "c1", "intro", "ended")]


# ---- conditions ----------------------------------------------------------------------------


def test_a_reply_before_the_deadline_wins_and_goes_to_its_branch() -> None:
    # sent Tue 14:00Z, deadline Fri 14:00Z; reply Wed 16:00Z → engaged.book due 16:00Z
    data = reply_flow(events=[ev("2026-12-02T16:00:00Z", "replied", "c1", "intro")])
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-02T16:00:00Z", "c1", "book", "task_due"),
    ]


def test_a_reply_exactly_at_send_plus_within_is_too_late() -> None:
    # deadline = Tue 14:00Z + P3D = Fri 12-04 14:00Z; deadlines rank before events (§4.1) → next: bump
    # (sms, no conditions) sent at 14:00Z, then call (delay 0) shown at 14:00Z
    data = reply_flow(events=[ev("2026-12-04T14:00:00Z", "replied", "c1", "intro")])
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-04T14:00:00Z", "c1", "bump", "sms_sent"),
        ("2026-12-04T14:00:00Z", "c1", "call", "task_due"),
    ]


def test_a_reply_in_the_same_second_as_the_send_counts() -> None:
    data = reply_flow(events=[ev("2026-12-01T14:00:00Z", "replied", "c1", "intro")])
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "book", "task_due"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
    ]


def test_the_first_matching_event_wins_and_later_ones_change_nothing() -> None:
    # click Wed 15:00Z → goto_step call (bump skipped); the reply at 16:00Z is only recorded
    data = reply_flow(
        events=[
            ev("2026-12-02T16:00:00Z", "replied", "c1", "intro"),
            ev("2026-12-02T15:00:00Z", "clicked", "c1", "intro"),
        ]
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-02T15:00:00Z", "c1", "call", "task_due"),
    ]


def test_an_event_without_a_matching_condition_does_not_move() -> None:
    # opened has no condition on intro: still waiting until the deadline Fri 14:00Z
    data = reply_flow(events=[ev("2026-12-02T15:00:00Z", "opened", "c1", "intro")])
    out, warnings = simulate(data)
    assert out[2:] == [
        ("2026-12-04T14:00:00Z", "c1", "bump", "sms_sent"),
        ("2026-12-04T14:00:00Z", "c1", "call", "task_due"),
    ]
    assert warnings == []


def test_an_event_outside_the_window_holds_the_move_to_the_next_open_instant() -> None:
    # reply Tue 23:30Z (18:30 EST) → the move lands Wed 08:00 EST = 13:00Z
    data = reply_flow(events=[ev("2026-12-01T23:30:00Z", "replied", "c1", "intro")])
    assert rows(data)[2:] == [("2026-12-02T13:00:00Z", "c1", "book", "task_due")]


def test_a_deadline_outside_the_window_holds_the_move() -> None:
    # sent Tue 21:30Z (16:30 EST), within PT1H → deadline 22:30Z (17:30 EST) → moves Wed 13:00Z
    steps = [
        email(
            "intro",
            "PT0S",
            cond("replied", {"complete": True}),
            cond("no_condition_met", {"next": True}, "PT1H"),
        ),
        sms("bump"),
    ]
    data = scenario(steps, activated_at="2026-12-01T21:30:00Z")
    assert rows(data)[2:] == [
        ("2026-12-02T13:00:00Z", "c1", "bump", "completed"),
        ("2026-12-02T13:00:00Z", "c1", "bump", "sms_sent"),
    ]


def test_a_goto_step_condition_jumps_to_that_step() -> None:
    data = reply_flow(events=[ev("2026-12-01T15:00:00Z", "clicked", "c1", "intro")])
    assert rows(data)[2:] == [("2026-12-01T15:00:00Z", "c1", "call", "task_due")]


def test_an_exit_outcome_exits_on_the_step_it_was_on() -> None:
    call = task(
        "call",
        "PT0S",
        cond("Connected", {"complete": True}),
        cond("Not interested", {"exit": "not_interested"}),
        kind="call",
    )
    data = scenario(
        [call, task("later")],
        events=[ev("2026-12-01T15:00:00Z", "outcome", "c1", "call", outcome="Not interested")],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-01T15:00:00Z", "c1", "call", "exited"),
    ]


def test_a_complete_outcome_completes_on_its_step() -> None:
    call = task("call", "PT0S", cond("Connected", {"complete": True}), kind="call")
    data = scenario(
        [call, task("later")],
        events=[ev("2026-12-01T15:00:00Z", "outcome", "c1", "call", outcome="Connected")],
    )
    assert rows(data)[2:] == [("2026-12-01T15:00:00Z", "c1", "call", "completed")]


def test_done_on_the_last_step_of_a_branch_completes() -> None:
    # a manual step with no conditions has one outcome, Done → next; the end of the branch = complete
    data = scenario(
        [task("call", kind="call")],
        events=[ev("2026-12-01T15:00:00Z", "outcome", "c1", "call", outcome="Done")],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-01T15:00:00Z", "c1", "call", "completed"),
    ]


def test_an_outcome_outside_the_window_completes_at_the_next_open_instant() -> None:
    # Done Tue 23:00Z (18:00 EST) → completed Wed 13:00Z (§4.1: completed happens at next_open(trigger))
    data = scenario(
        [task("call", kind="call")],
        events=[ev("2026-12-01T23:00:00Z", "outcome", "c1", "call", outcome="Done")],
    )
    assert rows(data)[2:] == [("2026-12-02T13:00:00Z", "c1", "call", "completed")]


def test_a_step_delay_is_added_at_arrival() -> None:
    # Done at 15:00Z → next step with PT2H → due 17:00Z
    data = scenario(
        [task("call", kind="call"), task("note", "PT2H")],
        events=[ev("2026-12-01T15:00:00Z", "outcome", "c1", "call", outcome="Done")],
    )
    assert rows(data)[2:] == [("2026-12-01T17:00:00Z", "c1", "note", "task_due")]


# ---- Move to Next Task Now, Retry ----------------------------------------------------------


def test_move_next_on_a_waiting_step_follows_no_condition_met_now() -> None:
    # intro waits until Fri; Move to Next Task Now Wed 15:00Z → bump sent at 15:00Z, call task at 15:00Z
    data = reply_flow(events=[ev("2026-12-02T15:00:00Z", "move_next", "c1", "intro")])
    out, warnings = simulate(data)
    assert out[2:] == [
        ("2026-12-02T15:00:00Z", "c1", "bump", "sms_sent"),
        ("2026-12-02T15:00:00Z", "c1", "call", "task_due"),
    ]
    assert warnings == []


def test_move_next_on_a_manual_step_is_ignored_with_a_warning() -> None:
    data = scenario([task("call", kind="call")], events=[ev("2026-12-01T15:00:00Z", "move_next", "c1", "call")])
    out, warnings = simulate(data)
    assert out == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
    ]
    assert len(warnings) == 1 and "move_next" in warnings[0]


def test_a_blank_email_fails_and_retry_sends_at_the_next_open_instant_without_the_delay() -> None:
    # intro delay PT2H: due 16:00Z → send_failed (email ""). Fixed 17:00Z; Retry Tue 22:30Z (17:30 EST)
    # → due next_open(22:30Z) = Wed 13:00Z (the PT2H is not applied again, else 15:00Z)
    data = scenario(
        [email("intro", "PT2H")],
        contacts=[contact("c1", email="")],
        events=[
            ev("2026-12-01T17:00:00Z", "contact_updated", "c1", fields={"email": "ada@x.example"}),
            ev("2026-12-01T22:30:00Z", "retry", "c1", "intro"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-01T16:00:00Z", "c1", "intro", "send_failed"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "completed"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_a_retry_without_fixing_the_address_fails_again() -> None:
    data = scenario(
        [sms("text")],
        contacts=[contact("c1", phone=None)],
        events=[ev("2026-12-01T15:00:00Z", "retry", "c1", "text")],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "text", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "text", "send_failed"),
        ("2026-12-01T15:00:00Z", "c1", "text", "send_failed"),
    ]


# ---- rollup membership ---------------------------------------------------------------------


def test_removal_and_re_add_resume_at_the_same_step_without_a_second_task_due() -> None:
    # call shown 14:00Z; removed 15:00Z, added back 16:00Z (same step, no second task_due);
    # Done 17:00Z → follow due 17:00Z
    data = scenario(
        [task("call", kind="call"), task("follow")],
        events=[
            ev("2026-12-01T15:00:00Z", "member_removed", "c1"),
            ev("2026-12-01T16:00:00Z", "member_added", "c1"),
            ev("2026-12-01T17:00:00Z", "outcome", "c1", "call", outcome="Done"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-01T17:00:00Z", "c1", "follow", "task_due"),
    ]


def test_a_step_that_falls_due_while_removed_is_due_at_the_next_open_instant_after_re_add() -> None:
    # intro due 16:00Z; removed 15:00Z; added back Wed 23:00Z (18:00 EST) → sent Thu 13:00Z
    data = scenario(
        [email("intro", "PT2H")],
        events=[
            ev("2026-12-01T15:00:00Z", "remove_from_sequence", "c1"),
            ev("2026-12-02T23:00:00Z", "member_added", "c1"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-03T13:00:00Z", "c1", "intro", "completed"),
        ("2026-12-03T13:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_an_outcome_while_removed_is_ignored_with_a_warning() -> None:
    data = scenario(
        [task("call", kind="call")],
        events=[
            ev("2026-12-01T15:00:00Z", "member_removed", "c1"),
            ev("2026-12-01T15:30:00Z", "outcome", "c1", "call", outcome="Done"),
        ],
    )
    out, warnings = simulate(data)
    assert [r[3] for r in out] == ["entered", "task_due"]
    assert len(warnings) == 1 and "outcome" in warnings[0]


def test_removal_before_entry_enters_when_added_back() -> None:
    # begin Thu 05:00Z (resumed Wed). c1 removed from the sequence Wed 16:00Z, before its entry; c2 enters
    # at begin. c1 added back Fri 12-04 15:00Z → enters then, sends at once.
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2"],
        begin="2026-12-03",
        events=[
            ev("2026-12-02T15:00:00Z", "resume"),
            ev("2026-12-02T16:00:00Z", "remove_from_sequence", "c1"),
            ev("2026-12-04T15:00:00Z", "member_added", "c1"),
        ],
    )
    assert [r for r in rows(data) if r[3] == "entered"] == [
        ("2026-12-03T05:00:00Z", "c2", "intro", "entered"),
        ("2026-12-04T15:00:00Z", "c1", "intro", "entered"),
    ]


def test_a_removal_at_the_activation_instant_keeps_the_contact_out_until_added_back() -> None:
    # removals take effect before entries at their instant (§4.1): c1 never enters at 14:00Z
    data = scenario(
        [email("intro")],
        events=[
            ev("2026-12-01T14:00:00Z", "member_removed", "c1"),
            ev("2026-12-01T15:00:00Z", "member_added", "c1"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T15:00:00Z", "c1", "intro", "completed"),
        ("2026-12-01T15:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T15:00:00Z", "c1", "intro", "entered"),
    ]


def test_a_later_contact_added_to_the_rollup_enters_at_that_instant() -> None:
    # c9 added Wed 02:00Z (21:00 EST Tue): entry not held to the window; the send is → Wed 13:00Z
    data = scenario(
        [email("intro")], contacts=[], later=["c9"], events=[ev("2026-12-02T02:00:00Z", "member_added", "c9")]
    )
    assert rows(data) == [
        ("2026-12-02T02:00:00Z", "c9", "intro", "entered"),
        ("2026-12-02T13:00:00Z", "c9", "intro", "completed"),
        ("2026-12-02T13:00:00Z", "c9", "intro", "email_sent"),
    ]


# ---- sequence pause / resume ---------------------------------------------------------------


def test_a_send_that_falls_due_during_a_pause_is_due_at_the_next_open_instant_after_resume() -> None:
    # intro due 16:00Z; paused 15:00Z; resumed Tue 23:00Z (18:00 EST) → Wed 13:00Z
    data = scenario(
        [email("intro", "PT2H")],
        events=[ev("2026-12-01T15:00:00Z", "pause"), ev("2026-12-01T23:00:00Z", "resume")],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "completed"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_a_pause_at_the_due_instant_closes_that_instant() -> None:
    # intro due 16:00Z, paused 16:00Z (pause first, §4.1) → resumed 17:00Z → sent 17:00Z
    data = scenario(
        [email("intro", "PT2H")],
        events=[ev("2026-12-01T16:00:00Z", "pause"), ev("2026-12-01T17:00:00Z", "resume")],
    )
    assert rows(data)[1:] == [
        ("2026-12-01T17:00:00Z", "c1", "intro", "completed"),
        ("2026-12-01T17:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_a_task_shown_before_a_pause_gives_no_second_task_due_after_resume() -> None:
    data = scenario(
        [task("call", kind="call"), task("follow")],
        events=[
            ev("2026-12-01T15:00:00Z", "pause"),
            ev("2026-12-01T16:00:00Z", "resume"),
            ev("2026-12-01T17:00:00Z", "outcome", "c1", "call", outcome="Done"),
        ],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
        ("2026-12-01T17:00:00Z", "c1", "follow", "task_due"),
    ]


def test_a_task_that_falls_due_during_a_pause_appears_at_resume() -> None:
    # follow-up task due 16:00Z; paused 15:00Z–18:00Z → task_due 18:00Z
    data = scenario(
        [task("note", "PT2H")],
        events=[ev("2026-12-01T15:00:00Z", "pause"), ev("2026-12-01T18:00:00Z", "resume")],
    )
    assert rows(data)[1:] == [("2026-12-01T18:00:00Z", "c1", "note", "task_due")]


def test_an_outcome_while_paused_is_ignored_with_a_warning() -> None:
    data = scenario(
        [task("call", kind="call")],
        events=[
            ev("2026-12-01T15:00:00Z", "pause"),
            ev("2026-12-01T15:30:00Z", "outcome", "c1", "call", outcome="Done"),
        ],
    )
    out, warnings = simulate(data)
    assert [r[3] for r in out] == ["entered", "task_due"]
    assert len(warnings) == 1 and "outcome" in warnings[0] and "c1" in warnings[0]


def test_a_reply_during_a_pause_wins_and_its_move_waits_for_the_resume() -> None:
    # intro waiting (deadline Fri); paused Wed 15:00Z; reply Wed 16:00Z wins; resumed Wed 18:00Z → book
    data = reply_flow(
        events=[
            ev("2026-12-02T15:00:00Z", "pause"),
            ev("2026-12-02T16:00:00Z", "replied", "c1", "intro"),
            ev("2026-12-02T18:00:00Z", "resume"),
        ]
    )
    assert rows(data)[2:] == [("2026-12-02T18:00:00Z", "c1", "book", "task_due")]


def test_a_deadline_during_a_pause_beats_a_later_reply_and_moves_at_resume() -> None:
    # intro within P3D → deadline Fri 14:00Z, inside a pause Fri 13:30Z–15:00Z; reply at 14:30Z is too late
    data = reply_flow(
        events=[
            ev("2026-12-04T13:30:00Z", "pause"),
            ev("2026-12-04T14:30:00Z", "replied", "c1", "intro"),
            ev("2026-12-04T15:00:00Z", "resume"),
        ]
    )
    assert rows(data)[2:] == [
        ("2026-12-04T15:00:00Z", "c1", "bump", "sms_sent"),
        ("2026-12-04T15:00:00Z", "c1", "call", "task_due"),
    ]


# ---- ignored events ------------------------------------------------------------------------


def test_events_that_do_not_apply_are_ignored_and_reported() -> None:
    data = reply_flow(
        events=[
            ev("2026-12-01T13:00:00Z", "replied", "c1", "intro"),  # before activated_at
            ev("2026-12-01T15:00:00Z", "replied", "c404", "intro"),  # unknown contact
            ev("2026-12-01T15:00:00Z", "replied", "c1", "nope"),  # unknown step
            ev("2026-12-01T15:00:00Z", "opened", "c1", "bump"),  # nothing sent on bump
            ev("2026-12-01T15:00:00Z", "outcome", "c1", "call", outcome="Done"),  # task not shown
        ],
        until="2026-12-03T00:00:00Z",
    )
    out, warnings = simulate(data)
    assert out == [
        ("2026-12-01T14:00:00Z", "c1", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c1", "intro", "entered"),
    ]
    assert len(warnings) == 5
    assert "c404" in warnings[1] and "nope" in warnings[2]


# ---- DST -----------------------------------------------------------------------------------


def test_a_p1d_delay_keeps_the_wall_time_across_new_york_spring_forward() -> None:
    # all days, all day. intro Sat 2026-03-07 12:00 EST = 17:00Z; bump P1D → Sun 12:00 EDT = 16:00Z
    data = scenario(
        [email("intro"), sms("bump", "P1D")],
        begin="2026-03-01",
        send_days=None,
        send_window=None,
        activated_at="2026-03-07T17:00:00Z",
        until="2026-03-10T00:00:00Z",
    )
    assert [r for r in rows(data) if r[3].endswith("_sent")] == [
        ("2026-03-07T17:00:00Z", "c1", "intro", "email_sent"),
        ("2026-03-08T16:00:00Z", "c1", "bump", "sms_sent"),
    ]


def test_a_p1d_delay_keeps_the_wall_time_across_berlin_spring_forward() -> None:
    # intro Sat 2026-03-28 12:00 CET = 11:00Z; bump P1D → Sun 03-29 12:00 CEST = 10:00Z
    data = scenario(
        [email("intro"), sms("bump", "P1D")],
        begin="2026-03-01",
        timezone="Europe/Berlin",
        send_days=None,
        send_window=None,
        activated_at="2026-03-28T11:00:00Z",
        until="2026-04-01T00:00:00Z",
    )
    assert [r for r in rows(data) if r[3].endswith("_sent")] == [
        ("2026-03-28T11:00:00Z", "c1", "intro", "email_sent"),
        ("2026-03-29T10:00:00Z", "c1", "bump", "sms_sent"),
    ]


# ---- output --------------------------------------------------------------------------------


def test_until_is_inclusive_and_nothing_after_it_is_printed() -> None:
    data = scenario([email("intro", "PT2H"), sms("bump", "PT1H")], until="2026-12-01T16:00:00Z")
    assert rows(data)[-1] == ("2026-12-01T16:00:00Z", "c1", "intro", "email_sent")
    assert all(r[0] <= "2026-12-01T16:00:00Z" for r in rows(data))


def test_output_is_sorted_by_at_contact_step_action_with_whole_second_utc_times() -> None:
    # events with a fraction of a second and an offset are printed in UTC, whole seconds
    data = reply_flow(
        contacts=["c2", "c10"],
        events=[ev("2026-12-01T11:00:00.700-05:00", "replied", "c10", "intro")],
        until="2026-12-03T00:00:00Z",
    )
    actions, _ = run(Scenario.model_validate(data))
    printed = [json.loads(line) for line in lines(actions)]
    keys = [(p["at"], p["contact"], p["step"], p["action"]) for p in printed]
    assert keys == sorted(keys)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", p["at"]) for p in printed)
    assert all(list(p) == ["at", "contact", "step", "action"] for p in printed)
    assert keys == [
        ("2026-12-01T14:00:00Z", "c10", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c10", "intro", "entered"),
        ("2026-12-01T14:00:00Z", "c2", "intro", "email_sent"),
        ("2026-12-01T14:00:00Z", "c2", "intro", "entered"),
        ("2026-12-01T16:00:00Z", "c10", "book", "task_due"),
    ]


@pytest.mark.parametrize("contacts", [["c1"], ["c1", "c2"]])
def test_every_entered_contact_has_exactly_one_entered_line(contacts: list[str]) -> None:
    out = rows(scenario([email("intro"), task("call", kind="call")], contacts=contacts))
    assert sorted(r[1] for r in out if r[3] == "entered") == contacts


# ---- edges of §4.1 -------------------------------------------------------------------------


def test_a_send_waiting_at_the_limiter_during_a_pause_goes_at_resume() -> None:
    # 1 per hour: c1 at 14:00Z, c2 waits for 15:00Z; paused 14:30Z–16:30Z → c2 at 16:30Z
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2"],
        events=[ev("2026-12-01T14:30:00Z", "pause"), ev("2026-12-01T16:30:00Z", "resume")],
        rate_limits={"email": {"count": 1, "per": "PT1H"}},
    )
    sent = [(at, c) for at, c, _, a in rows(data) if a == "email_sent"]
    assert sent == [("2026-12-01T14:00:00Z", "c1"), ("2026-12-01T16:30:00Z", "c2")]


def test_a_per_of_one_day_is_elapsed_time_across_spring_forward() -> None:
    # 1 per P1D = 86,400 s; c1 Sat 2026-03-07 17:00Z; c2 24 h later, Sun 17:00Z (13:00 EDT), not 16:00Z
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2"],
        begin="2026-03-01",
        send_days=None,
        send_window=None,
        activated_at="2026-03-07T17:00:00Z",
        until="2026-03-10T00:00:00Z",
        rate_limits={"email": {"count": 1, "per": "P1D"}},
    )
    sent = [(at, c) for at, c, _, a in rows(data) if a == "email_sent"]
    assert sent == [("2026-03-07T17:00:00Z", "c1"), ("2026-03-08T17:00:00Z", "c2")]


def test_email_and_sms_have_separate_limits() -> None:
    # email 1 per hour; sms unlimited. c1 and c2 get intro (email) at 14:00Z and 15:00Z,
    # each then texts at once
    data = scenario(
        [email("intro"), sms("bump")],
        contacts=["c1", "c2"],
        rate_limits={"email": {"count": 1, "per": "PT1H"}},
    )
    sent = [(at, c, s) for at, c, s, a in rows(data) if a.endswith("_sent")]
    assert sent == [
        ("2026-12-01T14:00:00Z", "c1", "bump"),
        ("2026-12-01T14:00:00Z", "c1", "intro"),
        ("2026-12-01T15:00:00Z", "c2", "bump"),
        ("2026-12-01T15:00:00Z", "c2", "intro"),
    ]


def test_a_pause_at_the_activation_instant_delays_entry_to_the_resume() -> None:
    # paused at 14:00Z (before entries), resumed Tue 23:00Z: entry then (not held to the window),
    # the send Wed 13:00Z
    data = scenario(
        [email("intro")],
        events=[ev("2026-12-01T14:00:00Z", "pause"), ev("2026-12-01T23:00:00Z", "resume")],
    )
    assert rows(data) == [
        ("2026-12-01T23:00:00Z", "c1", "intro", "entered"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "completed"),
        ("2026-12-02T13:00:00Z", "c1", "intro", "email_sent"),
    ]


def test_an_end_at_the_activation_instant_lets_nobody_enter() -> None:
    # end 2026-12-01T09:00 local = 14:00Z = activated_at: entry is never at or after end
    assert rows(scenario([email("intro")], end="2026-12-01T09:00")) == []


def test_an_enrollment_whose_move_is_held_to_the_window_ends_on_its_step() -> None:
    # Connected Tue 23:00Z → complete held to Wed 13:00Z; End Sequence Wed 05:00Z comes first
    call = task("call", "PT0S", cond("Connected", {"complete": True}), kind="call")
    data = scenario(
        [call],
        events=[
            ev("2026-12-01T23:00:00Z", "outcome", "c1", "call", outcome="Connected"),
            ev("2026-12-02T05:00:00Z", "end"),
        ],
    )
    assert rows(data)[2:] == [("2026-12-02T05:00:00Z", "c1", "call", "ended")]


def test_a_removed_enrollment_is_ended_too() -> None:
    data = scenario(
        [task("call", kind="call")],
        events=[ev("2026-12-01T15:00:00Z", "member_removed", "c1"), ev("2026-12-01T16:00:00Z", "end")],
    )
    assert rows(data)[2:] == [("2026-12-01T16:00:00Z", "c1", "call", "ended")]


def test_a_contact_removed_before_entry_is_not_ended() -> None:
    # future begin, resumed; c1 removed before begin; end on Thu → only c2 (entered) gets ended
    data = scenario(
        [task("call", kind="call")],
        contacts=["c1", "c2"],
        begin="2026-12-03",
        events=[
            ev("2026-12-02T15:00:00Z", "resume"),
            ev("2026-12-02T16:00:00Z", "member_removed", "c1"),
            ev("2026-12-03T15:00:00Z", "end"),
        ],
    )
    assert [r for r in rows(data) if r[3] == "ended"] == [("2026-12-03T15:00:00Z", "c2", "call", "ended")]


def test_an_outcome_in_the_instant_its_task_appears_applies() -> None:
    # tasks appear before user actions at one instant (§4.1)
    data = scenario(
        [task("call", kind="call")],
        events=[ev("2026-12-01T14:00:00Z", "outcome", "c1", "call", outcome="Done")],
    )
    assert rows(data) == [
        ("2026-12-01T14:00:00Z", "c1", "call", "completed"),
        ("2026-12-01T14:00:00Z", "c1", "call", "entered"),
        ("2026-12-01T14:00:00Z", "c1", "call", "task_due"),
    ]


def test_move_next_outside_the_window_holds_the_move() -> None:
    # Move to Next Task Now Tue 23:00Z → bump and call at Wed 13:00Z
    data = reply_flow(events=[ev("2026-12-01T23:00:00Z", "move_next", "c1", "intro")])
    assert rows(data)[2:] == [
        ("2026-12-02T13:00:00Z", "c1", "bump", "sms_sent"),
        ("2026-12-02T13:00:00Z", "c1", "call", "task_due"),
    ]


def test_a_retry_while_paused_is_ignored_with_a_warning() -> None:
    data = scenario(
        [email("intro")],
        contacts=[contact("c1", email=None)],
        events=[
            ev("2026-12-01T14:30:00Z", "contact_updated", "c1", fields={"email": "c1@x.example"}),
            ev("2026-12-01T15:00:00Z", "pause"),
            ev("2026-12-01T15:30:00Z", "retry", "c1", "intro"),
        ],
    )
    out, warnings = simulate(data)
    assert [r[3] for r in out] == ["entered", "send_failed"]
    assert len(warnings) == 1 and "retry" in warnings[0]


def test_a_later_contact_added_during_a_pause_enters_at_resume() -> None:
    data = scenario(
        [email("intro")],
        contacts=[],
        later=["c9"],
        events=[
            ev("2026-12-01T15:00:00Z", "pause"),
            ev("2026-12-01T16:00:00Z", "member_added", "c9"),
            ev("2026-12-01T18:00:00Z", "resume"),
        ],
    )
    assert rows(data)[0] == ("2026-12-01T18:00:00Z", "c9", "intro", "completed")
    assert ("2026-12-01T18:00:00Z", "c9", "intro", "entered") in rows(data)


def test_a_deadline_while_removed_moves_when_added_back() -> None:
    # intro within PT2H: deadline 16:00Z while c1 is removed (15:00Z–17:00Z) → bump at 17:00Z
    steps = [
        email(
            "intro",
            "PT0S",
            cond("replied", {"complete": True}),
            cond("no_condition_met", {"next": True}, "PT2H"),
        ),
        sms("bump"),
    ]
    data = scenario(
        steps,
        events=[
            ev("2026-12-01T15:00:00Z", "member_removed", "c1"),
            ev("2026-12-01T17:00:00Z", "member_added", "c1"),
        ],
    )
    assert rows(data)[2:] == [
        ("2026-12-01T17:00:00Z", "c1", "bump", "completed"),
        ("2026-12-01T17:00:00Z", "c1", "bump", "sms_sent"),
    ]


def test_a_fall_back_window_is_open_twice_for_sends() -> None:
    # New York Sun 2026-11-01, window 01:00–02:00, 1 per PT30M, every day: 01:00 EDT = 05:00Z and
    # 01:30 EDT, then the repeated hour 01:00 EST = 06:00Z and 01:30 EST; c5 next day 01:00 EST = 06:00Z
    data = scenario(
        [email("intro")],
        contacts=["c1", "c2", "c3", "c4", "c5"],
        begin="2026-10-01",
        send_days=None,
        send_window={"start": "01:00", "stop": "02:00"},
        activated_at="2026-11-01T04:00:00Z",
        until="2026-11-03T00:00:00Z",
        rate_limits={"email": {"count": 1, "per": "PT30M"}},
    )
    sent = [(at, c) for at, c, _, a in rows(data) if a == "email_sent"]
    assert sent == [
        ("2026-11-01T05:00:00Z", "c1"),
        ("2026-11-01T05:30:00Z", "c2"),
        ("2026-11-01T06:00:00Z", "c3"),
        ("2026-11-01T06:30:00Z", "c4"),
        ("2026-11-02T06:00:00Z", "c5"),
    ]


def test_a_contact_added_after_the_end_never_enters() -> None:
    # end 2026-12-01T12:00 local = 17:00Z; c9 added 18:00Z
    data = scenario(
        [email("intro")],
        contacts=[],
        later=["c9"],
        end="2026-12-01T12:00",
        events=[ev("2026-12-01T18:00:00Z", "member_added", "c9")],
    )
    out, warnings = simulate(data)
    assert out == []
    assert len(warnings) == 1 and "c9" in warnings[0]
