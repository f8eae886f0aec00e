"""`seqflow simulate` rule by rule (SPEC §4, §4.1, §8): rollup membership, pause/resume, ignored events, output.

Hand-worked scenarios and their exact output.
Unless a test says otherwise: America/New_York in December (EST = UTC−5), Mon–Fri 08:00–17:00 local
(= 13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST), contact c1.
"""

from __future__ import annotations

import json
import re

import pytest
from support.rules_scenarios import cond, email, ev, reply_flow, rows, scenario, simulate, sms, task

from seqflow.rules.simulate import Scenario, lines, run

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
