"""`seqflow simulate` rule by rule (SPEC §4, §4.1, §8): send days and window, DST, delays, begin and end.

Hand-worked scenarios and their exact output.
Unless a test says otherwise: America/New_York in December (EST = UTC−5), Mon–Fri 08:00–17:00 local
(= 13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST), contact c1.
"""

from __future__ import annotations

from support.rules_scenarios import (
    REPLY_FLOW,
    cond,
    contact,
    email,
    ev,
    reply_flow,
    rows,
    scenario,
    simulate,
    sms,
    task,
)

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


def test_a_step_delay_is_added_at_arrival() -> None:
    # Done at 15:00Z → next step with PT2H → due 17:00Z
    data = scenario(
        [task("call", kind="call"), task("note", "PT2H")],
        events=[ev("2026-12-01T15:00:00Z", "outcome", "c1", "call", outcome="Done")],
    )
    assert rows(data)[2:] == [("2026-12-01T17:00:00Z", "c1", "note", "task_due")]


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
