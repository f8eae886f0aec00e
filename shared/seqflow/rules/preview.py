"""Dry-run preview of an activation: the simulator's engine on a rollup's contacts, summed up for a person.

Pure: the caller gives the template, the settings, the contacts and the activation instant. The run is the
one `seqflow simulate` does (`build_runtime` + `Runtime.advance`); this module only adds up what it did.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.engine import Runtime
from seqflow.rules.gates import whole_seconds
from seqflow.rules.simulate import Scenario, build_runtime
from seqflow.rules.state import Action, Enrollment

HORIZON_DAYS = 90
KINDS = ("email", "sms", "task", "failed")  # what a day of the chart counts
KIND_OF = {"email_sent": "email", "sms_sent": "sms", "task_due": "task", "send_failed": "failed"}
FINISHES = ("completed", "exited", "ended")


@dataclass(frozen=True)
class Wait:
    """A send the limiter granted: when it fell due and when it went."""

    channel: str
    step: str
    due: datetime
    granted: datetime

    @property
    def seconds(self) -> int:
        return int((self.granted - self.due).total_seconds())


@dataclass(frozen=True)
class Failure:
    """A send that will fail because the contact's address for its channel is blank."""

    contact: str
    step: str
    channel: str
    at: datetime


@dataclass
class Holdback:
    """Where one channel's rate limit holds sends back: sends granted later than they fell due."""

    sends: int = 0
    total_seconds: int = 0
    longest_seconds: int = 0
    first_due: datetime | None = None
    by_day: Counter[date] = field(default_factory=Counter)
    by_step: Counter[str] = field(default_factory=Counter)

    def add(self, wait: Wait, day: date) -> None:
        self.sends += 1
        self.total_seconds += wait.seconds
        self.longest_seconds = max(self.longest_seconds, wait.seconds)
        self.first_due = wait.due if self.first_due is None else min(self.first_due, wait.due)
        self.by_day[day] += 1
        self.by_step[wait.step] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "sends": self.sends, "longest_seconds": self.longest_seconds,
            "mean_seconds": round(self.total_seconds / self.sends) if self.sends else 0,
            "first_due": self.first_due,
            "days": [{"day": d.isoformat(), "sends": n} for d, n in sorted(self.by_day.items())],
            "steps": [{"step": s, "sends": n} for s, n in self.by_step.most_common()],
        }  # fmt: skip


@dataclass
class Preview:
    """What an activation would do up to `until`, per local day of the sequence's time zone."""

    timezone: str
    activated_at: datetime
    until: datetime
    assumes_resume: bool
    contacts: int
    days: dict[date, Counter[str]] = field(default_factory=dict)
    totals: Counter[str] = field(default_factory=Counter)
    last_finish: datetime | None = None
    blank: list[Failure] = field(default_factory=list)
    held: dict[str, Holdback] = field(default_factory=dict)

    @property
    def in_progress(self) -> int:
        """Contacts that entered and had not finished by `until` (on a task nobody marks, or waiting)."""
        return self.totals["entered"] - sum(self.totals[f] for f in FINISHES)

    def to_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone, "activated_at": self.activated_at, "until": self.until,
            "assumes_resume": self.assumes_resume, "contacts": self.contacts,
            "days": [{"day": d.isoformat(), **{k: c[k] for k in KINDS}} for d, c in sorted(self.days.items())],
            "totals": {k: self.totals[k] for k in (*KINDS, "entered", *FINISHES)},
            "last_finish": self.last_finish, "in_progress": self.in_progress,
            "blank_addresses": [vars(f) for f in self.blank],
            "rate_limited": {ch: h.to_json() for ch, h in sorted(self.held.items())},
        }  # fmt: skip


def scenario_for(
    template: Template,
    activation: Activation,
    contacts: Iterable[Mapping[str, Any]],
    activated_at: datetime,
    horizon_days: int = HORIZON_DAYS,
) -> Scenario:
    """The simulator's input for a preview: every contact on the rollup at `activated_at`, nobody engaging.

    A begin later than the activation instant leaves a sequence paused until someone resumes it (SPEC §3);
    the preview assumes they resume it at once, so contacts enter at begin. It looks `horizon_days` past
    the later of the activation and begin, or up to the end setting when that comes first."""
    start = whole_seconds(activated_at)
    begin = whole_seconds(activation.begin_instant())
    until = max(start, begin) + timedelta(days=horizon_days)
    end = activation.end_instant()
    if end is not None:
        until = min(until, whole_seconds(end))
    events = [{"at": start, "type": "resume"}] if begin > start else []
    return Scenario.model_validate({
        "template": template, "activation": activation, "activated_at": start,
        "contacts": list(contacts), "events": events, "until": until,
    })  # fmt: skip


def preview(sc: Scenario) -> Preview:
    """Run the scenario as `seqflow simulate` does and add up the visible actions and the limiter's waits."""
    rt = build_runtime(sc)
    waits = _watch_waits(rt)
    for ev in sc.events:
        rt.submit(ev.to_input())
    until = whole_seconds(sc.until)
    with _without_cycle_collector():
        rt.advance(until)
    out = Preview(sc.activation.timezone, whole_seconds(sc.activated_at), until,
                  any(ev.type == "resume" for ev in sc.events), len(sc.contacts))  # fmt: skip
    _count(out, rt.actions, _local_day(sc.activation))
    _hold(out, waits, _local_day(sc.activation))
    return out


def _local_day(activation: Activation) -> Callable[[datetime], date]:
    tz = activation.tz
    return lambda t: t.astimezone(tz).date()


def _count(out: Preview, actions: list[Action], day_of: Callable[[datetime], date]) -> None:
    for a in actions:
        kind = KIND_OF.get(a.action)
        if kind is not None:
            out.days.setdefault(day_of(a.at), Counter())[kind] += 1
            out.totals[kind] += 1
            if kind == "failed":
                out.blank.append(Failure(a.contact, a.step or "", a.detail.get("channel", ""), a.at))
        elif a.action in FINISHES or a.action == "entered":
            out.totals[a.action] += 1
            if a.action != "entered" and (out.last_finish is None or a.at > out.last_finish):
                out.last_finish = a.at


def _hold(out: Preview, waits: list[Wait], day_of: Callable[[datetime], date]) -> None:
    for w in waits:
        if w.granted > w.due:
            out.held.setdefault(w.channel, Holdback()).add(w, day_of(w.due))


def _watch_waits(rt: Runtime) -> list[Wait]:
    """Note, for every send the limiter grants, when it fell due (the enrollment keeps only the latest).

    The engine's own send is called unchanged; the note is taken just before it."""
    waits: list[Wait] = []
    send = rt._send

    def noted(e: Enrollment, channel: str) -> None:
        waits.append(Wait(channel, e.step or "", e.due or rt.now, rt.now))
        send(e, channel)

    rt._send = noted  # type: ignore[method-assign]  # an instance hook: the engine stays as it is
    return waits


@contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """As `simulate.run`: the run makes millions of acyclic objects; rescanning them buys nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
