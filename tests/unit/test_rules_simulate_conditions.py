"""`seqflow simulate` rule by rule (SPEC §4, §4.1, §8): conditions, deadlines, replies, outcomes, Move to Next Task Now.

Hand-worked scenarios and their exact output.
Unless a test says otherwise: America/New_York in December (EST = UTC−5), Mon–Fri 08:00–17:00 local
(= 13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST), contact c1.
"""

from __future__ import annotations

from support.rules_scenarios import cond, email, ev, reply_flow, rows, scenario, simulate, sms, task

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


# ---- Move to Next Task Now -----------------------------------------------------------------


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


def test_move_next_outside_the_window_holds_the_move() -> None:
    # Move to Next Task Now Tue 23:00Z → bump and call at Wed 13:00Z
    data = reply_flow(events=[ev("2026-12-01T23:00:00Z", "move_next", "c1", "intro")])
    assert rows(data)[2:] == [
        ("2026-12-02T13:00:00Z", "c1", "bump", "sms_sent"),
        ("2026-12-02T13:00:00Z", "c1", "call", "task_due"),
    ]
