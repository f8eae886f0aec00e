"""Scenario builders for the `seqflow simulate` rule tests (tests/unit/test_rules_simulate_*.py).

Unless a test says otherwise: America/New_York in December (EST = UTC−5), Mon–Fri 08:00–17:00 local
(= 13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST), contact c1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqflow.rules.simulate import Scenario, run

Row = tuple[str, str, str | None, str]
MAIL = {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}", "body": "Hello"}
ACTIVATED = "2026-12-01T14:00:00Z"
LIMIT_2_PER_HOUR = {"email": {"count": 2, "per": "PT1H"}}


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
