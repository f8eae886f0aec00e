"""Scenarios in the `seqflow simulate` format (SPEC §8) that the agreement test also runs live.

Each one exercises one rule; they are in time order because the live run shares one clock.
"""

from __future__ import annotations

from typing import Any

EMAIL = {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello {{first_name}}"}
NY_WEEKDAYS = {"timezone": "America/New_York", "send_days": ["mon", "tue", "wed", "thu", "fri"],
               "send_window": {"start": "08:00", "stop": "17:00"}, "primary_user": "alice"}  # fmt: skip


def contact(cid: str, **extra: Any) -> dict[str, Any]:
    base = {
        "id": cid,
        "first_name": cid.title(),
        "email": f"{cid}@x.example",
        "phone": f"+1555{sum(map(ord, cid)):07d}",
    }
    return {**base, **extra}


def linear(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "agreement", "owner": "alice", "branches": [{"key": "main", "steps": list(steps)}]}


def email_step(key: str, delay: str = "PT0S", **more: Any) -> dict[str, Any]:
    return {"key": key, "type": "auto_email", "delay": delay, "email": EMAIL, **more}


def sms_step(key: str, delay: str = "PT0S") -> dict[str, Any]:
    return {"key": key, "type": "auto_sms", "delay": delay, "sms": {"body": "Hi {{first_name}}"}}


def call_step(key: str, delay: str = "PT0S") -> dict[str, Any]:
    return {"key": key, "type": "call", "delay": delay, "conditions": [
        {"when": "Connected", "then": {"complete": True}},
        {"when": "Not interested", "then": {"exit": "no"}}]}  # fmt: skip


SCENARIOS: list[dict[str, Any]] = [
    {  # weekend skip: activated Friday 17:00 New York, after the window → Monday 08:00; P1D Monday → Tuesday
        "name": "weekend",
        "template": linear(email_step("intro"), sms_step("bump", "P1D")),
        "activation": {**NY_WEEKDAYS, "begin": "2026-12-04"},
        "activated_at": "2026-12-04T22:00:00Z",
        "contacts": [contact("wk1"), contact("wk2")],
        "events": [],
        "until": "2026-12-09T00:00:00Z",
    },
    {  # rate limit: five contacts, two emails per hour
        "name": "ratelimit",
        "template": linear(email_step("intro")),
        "activation": {
            **NY_WEEKDAYS,
            "begin": "2026-12-09",
            "rate_limits": {"email": {"count": 2, "per": "PT1H"}},
        },  # fmt: skip
        "activated_at": "2026-12-09T14:00:00Z",
        "contacts": [contact(f"rl{i}") for i in (1, 2, 3, 4, 10)],
        "events": [],
        "until": "2026-12-10T00:00:00Z",
    },
    {  # a reply before the no_condition_met deadline wins; one after it is too late
        "name": "reply",
        "template": {
            "name": "agreement",
            "owner": "alice",
            "branches": [
                {
                    "key": "main",
                    "steps": [
                        email_step(
                            "intro",
                            conditions=[
                                {"when": "replied", "then": {"goto_branch": "engaged"}},
                                {"when": "no_condition_met", "within": "P1D", "then": {"next": True}},
                            ],
                        ),
                        sms_step("bump"),
                    ],
                },
                {"key": "engaged", "steps": [{"key": "book", "type": "task"}]},
            ],
        },
        "activation": {**NY_WEEKDAYS, "begin": "2026-12-10"},
        "activated_at": "2026-12-10T14:00:00Z",
        "contacts": [contact("rp1"), contact("rp2")],
        "events": [
            {"at": "2026-12-10T20:00:00Z", "type": "replied", "contact": "rp1", "step": "intro"},
            {"at": "2026-12-11T15:00:00Z", "type": "replied", "contact": "rp2", "step": "intro"},
        ],
        "until": "2026-12-12T00:00:00Z",
    },
    {  # blank email → send_failed → the address is fixed → Retry sends at once (the delay is not re-applied)
        "name": "blank",
        "template": linear(email_step("intro", "PT1H"), call_step("call")),
        "activation": {**NY_WEEKDAYS, "begin": "2026-12-14"},
        "activated_at": "2026-12-14T14:00:00Z",
        "contacts": [contact("bl1"), contact("bl2", email="  ")],
        "events": [
            {
                "at": "2026-12-14T16:00:00Z",
                "type": "contact_updated",
                "contact": "bl2",
                "fields": {"email": "fixed@x.example"},
            },
            {"at": "2026-12-14T16:30:00Z", "type": "retry", "contact": "bl2", "step": "intro"},
        ],
        "until": "2026-12-15T00:00:00Z",
    },
    {  # removed from the rollup with a task showing → added back: same step, no second task_due
        "name": "removal",
        "template": linear(call_step("call"), email_step("after")),
        "activation": {**NY_WEEKDAYS, "begin": "2026-12-15"},
        "activated_at": "2026-12-15T14:00:00Z",
        "contacts": [contact("rm1"), contact("rm2")],
        "events": [
            {"at": "2026-12-15T15:00:00Z", "type": "member_removed", "contact": "rm1"},
            {"at": "2026-12-15T18:00:00Z", "type": "member_added", "contact": "rm1"},
            {"at": "2026-12-15T19:00:00Z", "type": "outcome", "contact": "rm1", "step": "call", "outcome": "Connected"},
            {
                "at": "2026-12-15T19:30:00Z",
                "type": "outcome",
                "contact": "rm2",
                "step": "call",
                "outcome": "Not interested",
            },
        ],
        "until": "2026-12-16T00:00:00Z",
    },
    {  # sequence pause/resume: what fell due during the pause is due at the resume (held to the window)
        "name": "pause",
        "template": linear(email_step("intro"), sms_step("bump", "PT2H")),
        "activation": {**NY_WEEKDAYS, "begin": "2026-12-16"},
        "activated_at": "2026-12-16T14:00:00Z",
        "contacts": [contact("pz1")],
        "events": [
            {"at": "2026-12-16T15:00:00Z", "type": "pause"},
            {"at": "2026-12-16T23:00:00Z", "type": "resume"},
        ],
        "until": "2026-12-18T00:00:00Z",
    },
    {  # End Sequence: every entered, unfinished enrollment ends; nothing more is sent
        "name": "end",
        "template": linear(email_step("intro"), sms_step("bump", "P1D")),
        "activation": {**NY_WEEKDAYS, "begin": "2026-12-21"},
        "activated_at": "2026-12-21T14:00:00Z",
        "contacts": [contact("en1"), contact("en2")],
        "events": [{"at": "2026-12-21T20:00:00Z", "type": "end"}],
        "until": "2026-12-23T00:00:00Z",
    },
    {  # DST: a 02:30–03:30 window every day around New York's spring-forward (Sunday 2027-03-14)
        "name": "dst",
        "template": linear(email_step("intro"), sms_step("bump", "P1D"), email_step("last", "P1D")),
        "activation": {
            "timezone": "America/New_York",
            "send_window": {"start": "02:30", "stop": "03:30"},
            "primary_user": "alice",
            "begin": "2027-03-13",
        },  # fmt: skip
        "activated_at": "2027-03-13T07:45:00Z",
        "contacts": [contact("ds1")],
        "events": [],
        "until": "2027-03-17T00:00:00Z",
    },
]
