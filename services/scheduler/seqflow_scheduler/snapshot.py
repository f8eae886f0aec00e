"""Engine state <-> JSON for the scheduler's tables (Enrollment, SequenceState, Input)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import Any

from seqflow.rules.state import Enrollment, Input, SequenceState

_TIMES = ("at", "due", "sent_at", "entered_at")
_FIELDS = tuple(f.name for f in fields(Enrollment))


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def enrollment_json(e: Enrollment) -> str:
    # Not dataclasses.asdict: it deep-copies every field, and this runs for every enrollment a tick touches.
    data = {name: getattr(e, name) for name in _FIELDS}
    for name in _TIMES:
        data[name] = _iso(data[name])
    return json.dumps(data)


def enrollment_from(data: str | dict[str, Any]) -> Enrollment:
    raw = json.loads(data) if isinstance(data, str) else dict(data)
    known = {f.name for f in fields(Enrollment)}
    raw = {k: v for k, v in raw.items() if k in known}
    for name in _TIMES:
        raw[name] = _dt(raw.get(name))
    return Enrollment(**raw)


def state_json(s: SequenceState) -> str:
    return json.dumps({
        "paused": s.paused,
        "ended_at": _iso(s.ended_at),
        "grants": {ch: [t.isoformat() for t in ts] for ch, ts in s.grants.items()},
        "queue": {ch: [[t.isoformat(), c, k] for t, c, k in q] for ch, q in s.queue.items()},
    })  # fmt: skip


def state_from(data: str | dict[str, Any]) -> SequenceState:
    raw = json.loads(data) if isinstance(data, str) else data
    return SequenceState(
        paused=bool(raw.get("paused", False)),
        ended_at=_dt(raw.get("ended_at")),
        grants={ch: [datetime.fromisoformat(t) for t in ts] for ch, ts in raw.get("grants", {}).items()},
        queue={ch: [(datetime.fromisoformat(t), c, k) for t, c, k in q] for ch, q in raw.get("queue", {}).items()},
    )  # fmt: skip


def input_json(i: Input) -> str:
    return json.dumps({"at": i.at.isoformat(), "type": i.type, "contact": i.contact, "step": i.step,
                       "outcome": i.outcome, "fields": i.fields})  # fmt: skip


def input_from(data: str | dict[str, Any]) -> Input:
    raw = json.loads(data) if isinstance(data, str) else data
    return Input(datetime.fromisoformat(raw["at"]), raw["type"], raw.get("contact"), raw.get("step"),
                 raw.get("outcome"), raw.get("fields"))  # fmt: skip
