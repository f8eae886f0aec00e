"""`seqflow simulate SCENARIO.json`: a dry run of one sequence with the live engine's rules (SPEC §8)."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from seqflow.domain.activation import Activation
from seqflow.domain.errors import format_validation_error
from seqflow.domain.template import Template
from seqflow.rules.engine import Runtime
from seqflow.rules.gates import gates_for, whole_seconds
from seqflow.rules.state import VISIBLE, Action, Input

EventType = Literal[
    "opened", "clicked", "replied", "bounced", "outcome", "move_next", "retry", "contact_updated",
    "member_removed", "member_added", "remove_from_sequence", "unsubscribed", "pause", "resume", "end",
]  # fmt: skip
NEEDS_STEP = frozenset({"opened", "clicked", "replied", "bounced", "outcome", "move_next", "retry"})
NO_CONTACT = frozenset({"pause", "resume", "end"})


class Contact(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime
    type: EventType
    contact: str | None = None
    step: str | None = None
    outcome: str | None = None
    fields: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _required_parts(self) -> Event:
        if self.type not in NO_CONTACT and not self.contact:
            raise ValueError(f"a {self.type} event needs 'contact'")
        if self.type in NEEDS_STEP and not self.step:
            raise ValueError(f"a {self.type} event needs 'step'")
        if self.type == "outcome" and not self.outcome:
            raise ValueError("an outcome event needs 'outcome'")
        if self.type == "contact_updated" and self.fields is None:
            raise ValueError("a contact_updated event needs 'fields'")
        return self

    def to_input(self) -> Input:
        return Input(whole_seconds(self.at), self.type, self.contact, self.step, self.outcome, self.fields)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: Template
    activation: Activation
    activated_at: AwareDatetime
    contacts: list[Contact]
    later_contacts: list[Contact] = []
    events: list[Event] = []
    until: AwareDatetime

    @field_validator("template", mode="before")
    @classmethod
    def _template(cls, value: Any) -> Any:
        return Template.model_validate(value) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _unique_contacts(self) -> Scenario:
        ids = [c.id for c in [*self.contacts, *self.later_contacts]]
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dupes:
            raise ValueError(f"contacts: duplicate id(s) {', '.join(dupes)}")
        return self


def build_runtime(sc: Scenario) -> Runtime:
    activated_at = whole_seconds(sc.activated_at)
    limits = sc.activation.rate_limits
    contacts = {c.id: c.model_dump() for c in [*sc.contacts, *sc.later_contacts]}
    rt = Runtime(sc.template, gates_for(sc.activation), activated_at, contacts,
                 limits={"email": limits.email, "sms": limits.sms} if limits else None, keep=VISIBLE)  # fmt: skip
    for c in sc.contacts:
        rt.submit(Input(activated_at, "member_added", c.id))
    return rt


def run(sc: Scenario) -> tuple[list[Action], list[str]]:
    """The visible actions up to `until` (inclusive), sorted per SPEC §8, and the ignored events."""
    # The run allocates millions of short-lived, acyclic objects; the cycle collector would rescan the
    # whole growing heap again and again for nothing (measured with 30k contacts: 3.3 s → 2.3 s).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(sc)
    finally:
        if was_enabled:
            gc.enable()


def _run(sc: Scenario) -> tuple[list[Action], list[str]]:
    rt = build_runtime(sc)
    until = whole_seconds(sc.until)
    for ev in sc.events:
        rt.submit(ev.to_input())
    rt.advance(until)
    # Visible actions always name a step, so the first four fields sort without ties on None.
    actions = sorted((a for a in rt.actions if a.at <= until), key=itemgetter(0, 1, 2, 3))
    warnings = [f"ignored {r.input.type} at {_iso(r.input.at)} for {r.input.contact or 'the sequence'}"
                f"{' step ' + r.input.step if r.input.step else ''}: {r.reason}" for r in rt.rejected]  # fmt: skip
    return actions, warnings


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def lines(actions: list[Action]) -> Iterator[str]:
    for a in actions:
        yield json.dumps({"at": _iso(a.at), "contact": a.contact, "step": a.step, "action": a.action})


def load(path: str) -> Scenario:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return Scenario.model_validate(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seqflow simulate", description=__doc__)
    parser.add_argument("scenario", help="scenario JSON file (SPEC §8)")
    args = parser.parse_args(argv)
    try:
        scenario = load(args.scenario)
    except OSError as exc:
        print(f"scenario: cannot read {args.scenario}: {exc.strerror}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"scenario: not valid JSON: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"scenario invalid:\n{format_validation_error(exc)}", file=sys.stderr)
        return 2
    actions, warnings = run(scenario)
    for w in warnings:
        print(w, file=sys.stderr)
    sys.stdout.write("".join(line + "\n" for line in lines(actions)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
