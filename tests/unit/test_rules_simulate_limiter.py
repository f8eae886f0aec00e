"""`seqflow simulate` rule by rule (SPEC §4, §4.1, §8): the rate limiter, blank addresses and Retry.

Hand-worked scenarios and their exact output.
Unless a test says otherwise: America/New_York in December (EST = UTC−5), Mon–Fri 08:00–17:00 local
(= 13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST), contact c1.
"""

from __future__ import annotations

from support.rules_scenarios import LIMIT_2_PER_HOUR, contact, email, ev, rows, scenario, simulate, sms

# ---- the rate limiter ----------------------------------------------------------------------


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


# ---- Retry ---------------------------------------------------------------------------------


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
