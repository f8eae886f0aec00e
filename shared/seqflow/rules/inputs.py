"""How the engine applies inputs: lifecycle, edits, membership, user actions and engagement (SPEC §4).

Functions of a `Runtime` (engine.py), split out so each module keeps one responsibility: engine.py moves
time forward; this module applies what arrives from outside at its instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.edits import surviving_target
from seqflow.rules.gates import gates_for
from seqflow.rules.ratelimit import limiter_for
from seqflow.rules.state import (
    ACTIVE,
    CHANNEL_FIELD,
    ENDED,
    ENGAGEMENTS,
    EXITED,
    P_DONE,
    P_DUE,
    P_ENTER,
    P_FAILED,
    P_MOVE,
    P_QUEUED,
    P_TASK,
    P_WAITING,
    PENDING,
    RANK_END,
    Enrollment,
    Input,
    Rejected,
)

if TYPE_CHECKING:
    from seqflow.rules.engine import Runtime


def _reject(rt: Runtime, inp: Input, reason: str) -> None:
    rt.rejected.append(Rejected(inp, reason))


def apply_input(rt: Runtime, inp: Input) -> None:
    if inp.at < rt.activated_at:
        return _reject(rt, inp, "before the activation")
    if rt.state.ended_at is not None:
        return _reject(rt, inp, "the sequence has ended")
    if inp.type in ("pause", "resume", "end", "edit"):
        return _lifecycle(rt, inp)
    e = rt.enr.get(inp.contact or "")
    if e is None and not (inp.type in ("member_added", "unsubscribed") and inp.contact in rt.contacts):
        return _reject(rt, inp, f"unknown contact {inp.contact!r}")
    handler = HANDLERS.get(inp.type) if inp.type not in ENGAGEMENTS else _engaged
    if handler is None:
        return _reject(rt, inp, f"unknown event type {inp.type!r}")
    reason = handler(rt, e, inp)
    if reason:
        _reject(rt, inp, reason)
    return None


def _lifecycle(rt: Runtime, inp: Input) -> None:
    if inp.type == "end":
        return end_sequence(rt, inp.at)
    if inp.type == "edit":
        return _edit(rt, inp)
    if rt.state.paused == (inp.type == "pause"):
        return _reject(rt, inp, f"the sequence is already {'paused' if rt.state.paused else 'active'}")
    rt.state.paused = inp.type == "pause"
    rt._emit(None, "sequence_" + ("paused" if rt.state.paused else "resumed"))
    if not rt.state.paused:
        for e in rt.enr.values():
            if e.held and not e.removed and not e.finished:
                _unhold(rt, e)
        for ch, q in rt.queues.items():
            if q:
                rt._ensure_wake(ch, rt._next_open(rt.now))
    return None


def _edit(rt: Runtime, inp: Input) -> None:
    """Edit Sequence / Edit Branches: only while paused (SPEC §4); takes effect at its instant."""
    if not rt.state.paused:
        return _reject(rt, inp, "a sequence can be edited only while paused")
    fields = inp.fields or {}
    if fields.get("activation") is not None:
        _use_settings(rt, Activation.model_validate(fields["activation"]))
    if fields.get("template") is not None:
        _relocate(rt, Template.model_validate(fields["template"]))
    rt.edits.update({k: v for k, v in fields.items() if v is not None})
    rt._emit(None, "sequence_edited")
    return None


def _use_settings(rt: Runtime, activation: Activation) -> None:
    rt.gates = gates_for(activation)
    rt._open_cache.clear()
    rt._after_cache.clear()
    limits = activation.rate_limits
    rt.state.grants = {ch: list(lim.grants) for ch, lim in rt.limiters.items()}
    pairs = {"email": limits.email, "sms": limits.sms} if limits else {}
    rt.limiters = {ch: limiter_for(pairs.get(ch), rt.state.grants.get(ch, [])) for ch in CHANNEL_FIELD}
    if rt.gates.end is not None:
        rt._push(rt.gates.end, RANK_END, "", "end", None)


def _relocate(rt: Runtime, new: Template) -> None:
    """Enrollments on deleted steps move on to the next surviving step of their branch (or complete)."""
    old = rt.template
    rt._use_template(new)
    for e in rt.enr.values():
        if e.status != ACTIVE or e.step is None or e.step in rt.steps:
            continue
        target = surviving_target(old, new, e.step)
        e.phase, e.move_kind, e.move_target = P_MOVE, ("arrive" if target else "complete"), target
        e.at, e.held = rt._next_open(rt.now), False
        rt._emit(e, "relocated", e.step, to=target)
        rt._arm(e)


def _unhold(rt: Runtime, e: Enrollment) -> None:
    """What fell due while paused is due at the resume instant (entry: not held to the window)."""
    e.held = False
    e.at = rt.now if e.phase == P_ENTER else rt._next_open(rt.now)
    rt._arm(e)


def end_sequence(rt: Runtime, at: datetime) -> None:
    rt.state.ended_at = at
    rt._emit(None, "sequence_ended")
    for cid in sorted(rt.enr):
        e = rt.enr[cid]
        if e.status == ACTIVE:
            e.status, e.phase, e.at = ENDED, P_DONE, None
            rt._emit(e, "ended", e.step)
        elif e.status == PENDING:
            e.status, e.phase, e.at = ENDED, P_DONE, None
        rt.dirty.add(cid)


def _in_member_added(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    if e is None:
        assert inp.contact is not None
        e = rt.enr[inp.contact] = Enrollment(inp.contact)
        if _on_suppression_list(rt, inp.contact):
            return unsubscribe(rt, e)  # unsubscribed before it entered: it never enters (SPEC §6)
        e.at = max(rt.activated_at, rt.gates.begin, inp.at)
        if rt.gates.end is None or e.at < rt.gates.end:
            rt._arm(e)
        return None
    if e.status == EXITED and e.entered_at is None:
        return "the contact unsubscribed before it entered"
    if not e.removed:
        return "already on the rollup"
    e.removed = False
    rt._emit(e, "restored", e.step)
    if e.held and not rt.state.paused and not e.finished:
        _unhold(rt, e)
    if e.phase == P_QUEUED and e.step is not None:
        channel = rt.channel[e.step]
        assert channel is not None
        rt._ensure_wake(channel, rt._next_open(rt.now))
    rt.dirty.add(e.contact_id)
    return None


def _in_member_removed(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    assert e is not None
    if e.removed:
        return "not on the rollup"
    e.removed = True
    rt.dirty.add(e.contact_id)
    rt._emit(e, "removed", e.step, how=inp.type)
    return None


def _in_contact_updated(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    assert inp.contact is not None
    rt.contacts[inp.contact] = {**rt.contacts.get(inp.contact, {}), **(inp.fields or {})}
    return None


def _acting_on(rt: Runtime, e: Enrollment | None, inp: Input, phase: str, what: str) -> str | None:
    """Why a user action on a step cannot apply now, or None when it can."""
    if e is None or e.status != ACTIVE or e.step != inp.step:
        return f"contact is not on step {inp.step!r}"
    if e.phase != phase:
        return f"step {inp.step!r} has no {what}"
    if rt._closed(e):
        return "paused"
    return None


def _in_outcome(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    if e is not None and e.phase == P_FAILED and inp.outcome == "Retry":
        return _in_retry(rt, e, inp)
    reason = _acting_on(rt, e, inp, P_TASK, "task on the task list")
    if reason or e is None or e.step is None:
        return reason
    then = rt.steps[e.step].then_for_outcome(inp.outcome or "")
    if then is None:
        return f"unknown outcome {inp.outcome!r}"
    e.steps_done += 1
    rt._emit(e, "outcome", e.step, outcome=inp.outcome)
    rt._trigger(e, then)
    return None


def _in_move_next(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    reason = _acting_on(rt, e, inp, P_WAITING, "waiting automatic send")
    if reason or e is None:
        return reason
    rt._deadline(e)
    return None


def _in_retry(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    reason = _acting_on(rt, e, inp, P_FAILED, "failed send")
    if reason or e is None:
        return reason
    e.attempt += 1
    e.phase, e.at = P_DUE, rt._next_open(rt.now)  # the delay is not applied again
    rt._emit(e, "retry", e.step)
    rt._arm(e)
    return None


def _engaged(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    assert e is not None
    if e.status == PENDING or inp.step is None or inp.step not in e.sent_steps:
        return f"nothing was sent on step {inp.step!r}"
    rt._emit(e, inp.type, inp.step)
    if e.phase == P_WAITING and e.step == inp.step:
        for cond in rt.steps[inp.step].conditions:
            if cond.when == inp.type:
                rt._trigger(e, cond.then)
                break
    return None


def _on_suppression_list(rt: Runtime, contact_id: str) -> bool:
    """Live, an unsubscribe reaches a sequence the contact joins later only as its address on the list."""
    if not rt.suppressed:
        return False
    fields = rt.contacts.get(contact_id, {})
    return any(str(fields.get(f) or "").strip().lower() in rt.suppressed for f in CHANNEL_FIELD.values())


def _in_unsubscribed(rt: Runtime, e: Enrollment | None, inp: Input) -> str | None:
    if e is None:  # not on the rollup yet: remember it, so that a later addition does not enter
        assert inp.contact is not None
        e = rt.enr[inp.contact] = Enrollment(inp.contact, removed=True)
    if e.finished:
        return f"the enrollment has already {e.status}"
    return unsubscribe(rt, e, inp.type)


def unsubscribe(rt: Runtime, e: Enrollment, reason: str = "unsubscribed") -> None:
    """Exit at this very instant with this reason (`unsubscribed`, SPEC §6; `erased` when the contact is
    erased): nothing is sent by leaving, so neither the window nor a pause holds it back. A contact that has
    not entered yet never enters (no action)."""
    e.held = False
    if e.status == PENDING:
        e.status, e.phase, e.at = EXITED, P_DONE, None
        rt._arm(e)
        return None
    e.move_kind, e.move_target = "exit", reason
    rt._land(e)
    return None


Handler = Callable[["Runtime", Enrollment | None, Input], str | None]
HANDLERS: dict[str, Handler] = {
    "member_added": _in_member_added,
    "member_removed": _in_member_removed,
    "remove_from_sequence": _in_member_removed,
    "contact_updated": _in_contact_updated,
    "outcome": _in_outcome,
    "move_next": _in_move_next,
    "retry": _in_retry,
    "unsubscribed": _in_unsubscribed,
    "erased": _in_unsubscribed,  # the input's type is the exit's reason; only an enrolled contact is erased
}
