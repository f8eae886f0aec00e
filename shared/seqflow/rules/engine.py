"""The sequence engine: one sequence's enrollments moved through time by the rules of SPEC §4.

Pure: no I/O, no clock. `seqflow simulate` and the live scheduler both drive a `Runtime`:
submit inputs with their instants, `advance(until)`, then read `actions` and `rejected`.
Within one instant work runs in the order of SPEC §4.1 (the RANK_* constants), and work that
lands on the instant being processed runs in that instant.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from seqflow.domain.activation import Activation, RateLimit
from seqflow.domain.durations import Duration
from seqflow.domain.template import Template, Then
from seqflow.rules.calendar import Gates, add_duration, next_open
from seqflow.rules.edits import surviving_target
from seqflow.rules.gates import gates_for
from seqflow.rules.ratelimit import SlidingWindow, Unlimited
from seqflow.rules.state import (
    ACTIVE,
    COMPLETED,
    ENDED,
    EXITED,
    FINISHED,
    P_DONE,
    P_DUE,
    P_ENTER,
    P_FAILED,
    P_MOVE,
    P_QUEUED,
    P_TASK,
    P_WAITING,
    PENDING,
    Action,
    Enrollment,
    Input,
    Rejected,
    SequenceState,
)

(RANK_END, RANK_GATE, RANK_ENTER, RANK_MOVE, RANK_DEADLINE, RANK_TASK, RANK_DUE_SEND, RANK_LIMITER,
 RANK_INPUT) = range(9)  # fmt: skip

GATE_INPUTS = frozenset({"pause", "resume", "edit", "member_removed", "member_added", "remove_from_sequence"})
ENGAGEMENTS = frozenset({"opened", "clicked", "replied", "bounced"})
CHANNEL_FIELD = {"email": "email", "sms": "phone"}
SENT = {"email": "email_sent", "sms": "sms_sent"}

TIMER_RANKS = {P_ENTER: RANK_ENTER, P_MOVE: RANK_MOVE, P_WAITING: RANK_DEADLINE}

NEXT = Then(next=True)
EMPTY: dict[str, Any] = {}
UNSUBSCRIBED = Then(exit="unsubscribed")
CACHE_LIMIT = 50_000

Entry = tuple[datetime, int, str, int, str, Any, int]  # at, rank, order key, seq, kind, payload, version


class Runtime:
    """One sequence's engine state plus a timeline of pending work."""

    def __init__(
        self,
        template: Template,
        gates: Gates,
        activated_at: datetime,
        contacts: Mapping[str, dict[str, Any]],
        limits: Mapping[str, RateLimit | None] | None = None,
        state: SequenceState | None = None,
        enrollments: Iterable[Enrollment] = (),
        now: datetime | None = None,
        suppressed: Iterable[str] = (),
        keep: frozenset[str] | None = None,
    ) -> None:
        """`keep`: record only these actions (the simulator prints a few; services want all)."""
        self._use_template(template)
        self.keep = keep
        self.all_actions = keep is None  # hot-path emits of internal actions are skipped when not kept
        self._open_cache: dict[datetime, datetime | None] = {}
        self._after_cache: dict[tuple[datetime, int], datetime] = {}
        self.gates = gates
        self.activated_at = activated_at
        self.contacts = dict(contacts)
        self.suppressed = {a.strip().lower() for a in suppressed}  # unsubscribed addresses (SPEC §6)
        self.state = state or SequenceState(paused=gates.begin > activated_at)
        self.enr = {e.contact_id: e for e in enrollments}
        self.limiters = {ch: _limiter(ch, limits or {}, self.state) for ch in CHANNEL_FIELD}
        self.queues = {ch: list(self.state.queue.get(ch, [])) for ch in CHANNEL_FIELD}
        for q in self.queues.values():
            heapq.heapify(q)
        self.wake: dict[str, datetime | None] = dict.fromkeys(CHANNEL_FIELD)
        self.heap: list[Entry] = []
        self.counter = itertools.count()
        self.now = now or activated_at
        self.rank = RANK_END
        self.actions: list[Action] = []
        self.rejected: list[Rejected] = []
        self.edits: dict[str, Any] = {}  # template / activation JSON replaced by an edit, for the caller to store
        self.dirty: set[str] = set()
        for e in self.enr.values():
            self._arm(e)
        if gates.end is not None:
            self._push(gates.end, RANK_END, "", "end", None)
        for ch, limiter in self.limiters.items():  # a restored queue needs its limiter awake
            if self.queues[ch]:
                self._ensure_wake(ch, self._next_open(limiter.available_at(self.now)))

    # ---- timeline -------------------------------------------------------------------------
    def _push(self, at: datetime, rank: int, key: str, kind: str, payload: Any) -> None:
        heapq.heappush(self.heap, (at, rank, key, next(self.counter), kind, payload, 0))

    def _arm(self, e: Enrollment) -> None:
        """Record a change of e; (re)schedule its timer. Older timers of e go stale by version."""
        e.version += 1
        self.dirty.add(e.contact_id)
        if e.at is None or e.held or e.status in FINISHED:
            return
        phase = e.phase
        if phase == P_DUE:
            rank = RANK_DUE_SEND if self.auto[e.step] else RANK_TASK
        elif (rank := TIMER_RANKS.get(phase, -1)) < 0:
            return
        heapq.heappush(self.heap, (e.at, rank, e.contact_id, next(self.counter), "enr", e, e.version))

    def submit(self, inp: Input) -> None:
        rank = RANK_END if inp.type == "end" else RANK_GATE if inp.type in GATE_INPUTS else RANK_INPUT
        self._push(inp.at, rank, "", "input", inp)

    def next_wake(self) -> datetime | None:
        """When the next pending work falls due (stale entries included: waking early is harmless)."""
        return self.heap[0][0] if self.heap else None

    def advance(self, until: datetime) -> None:
        heap, pop, on_timer, state = self.heap, heapq.heappop, self._on_timer, self.state  # the hot loop
        while heap and heap[0][0] <= until:
            at, self.rank, _, _, kind, payload, version = pop(heap)
            self.now = at
            if kind == "enr":
                if payload.version == version and state.ended_at is None:
                    on_timer(payload)
            elif kind == "input":
                self._on_input(payload)
            elif self.state.ended_at is not None:
                continue
            elif kind == "limiter":
                self._on_limiter(payload, at)
            elif kind == "end" and at == self.gates.end:  # an edit may have moved the end since
                self._end(at)
        self.now = max(self.now, until)

    def export_state(self) -> SequenceState:
        self.state.grants = {ch: list(lim.grants) for ch, lim in self.limiters.items()}
        self.state.queue = {ch: sorted(q) for ch, q in self.queues.items()}
        return self.state

    def _use_template(self, template: Template) -> None:
        self.template = template
        self.steps = {s.key: s for s in template.steps()}
        self.auto = {s.key: s.is_auto for s in template.steps()}
        self.ncm = {s.key: s.no_condition_met for s in template.steps()}
        self.channel = {s.key: s.channel for s in template.steps()}
        self._moves: dict[tuple[str, int], tuple[str, str | None]] = {}

    # ---- time arithmetic, remembered: many enrollments share each instant -----------------
    def _next_open(self, t: datetime) -> datetime | None:
        if t not in self._open_cache:
            if len(self._open_cache) > CACHE_LIMIT:
                self._open_cache.clear()
            self._open_cache[t] = next_open(self.gates, t)
        return self._open_cache[t]

    def _after(self, t: datetime, d: Duration) -> datetime:
        key = (t, id(d))  # durations belong to the frozen template: identity is enough
        if key not in self._after_cache:
            if len(self._after_cache) > CACHE_LIMIT:
                self._after_cache.clear()
            self._after_cache[key] = add_duration(self.gates.tz, t, d)
        return self._after_cache[key]

    # ---- timers ---------------------------------------------------------------------------
    def _emit(self, e: Enrollment | None, action: str, step: str | None = None, **detail: Any) -> None:
        if self.keep is None or action in self.keep:
            self.actions.append(Action(self.now, e.contact_id if e else "", step, action, detail))

    def _closed(self, e: Enrollment) -> bool:
        return self.state.paused or e.removed

    def _hold(self, e: Enrollment) -> None:
        e.held = True
        self.dirty.add(e.contact_id)

    def _on_timer(self, e: Enrollment) -> None:
        if e.finished:
            return
        if e.phase == P_WAITING:  # a deadline is a trigger, not an action: pauses do not hold it
            self._deadline(e)
        elif self._closed(e):
            self._hold(e)
        elif e.phase == P_ENTER:
            self._enter(e)
        elif e.phase == P_MOVE:
            self._land(e)
        elif e.phase == P_DUE:
            self._fall_due(e)

    def _enter(self, e: Enrollment) -> None:
        first = self.template.entry_step().key
        e.status, e.entered_at = ACTIVE, self.now
        self._emit(e, "entered", first)
        self._arrive(e, first)

    def _arrive(self, e: Enrollment, key: str) -> None:
        step = self.steps[key]
        e.step, e.task_shown, e.sent_at = key, False, None
        e.attempt += 1
        wanted = self._after(self.now, step.delay)
        e.phase, e.at = P_DUE, self._next_open(wanted)
        if e.at != wanted and self.all_actions:
            self._emit(e, "deferred", key, until=e.at)  # held to the window (a metric for operators)
        if e.at == self.now and not self._closed(e):
            self._fall_due(e)  # due in this instant: the same as a timer at now, without the round trip
        else:
            self._arm(e)

    def _fall_due(self, e: Enrollment) -> None:
        assert e.step is not None
        e.version += 1  # neither a task nor a queued send has a timer: this is all `_arm` would do
        self.dirty.add(e.contact_id)
        channel = self.channel[e.step]
        if channel is None:
            e.phase, e.at = P_TASK, None
            if not e.task_shown:
                e.task_shown = True
                step = self.steps[e.step]
                self._emit(e, "task_due", e.step, type=step.type, priority=step.priority)
            return
        e.phase, e.due, e.at = P_QUEUED, self.now, None
        heapq.heappush(self.queues[channel], (self.now, e.contact_id, e.step))
        if self.wake[channel] is None or self.wake[channel] > self.now:  # type: ignore[operator]
            self._ensure_wake(channel, self.now)

    def _deadline(self, e: Enrollment) -> None:
        assert e.step is not None
        cond = self.ncm[e.step]
        assert cond is not None
        self._trigger(e, cond.then)

    def _trigger(self, e: Enrollment, then: Then) -> None:
        assert e.step is not None
        kind, target = self._resolve(e.step, then)
        e.phase, e.move_kind, e.move_target = P_MOVE, kind, target
        e.at = self._next_open(self.now)
        if e.at == self.now and self.rank >= RANK_MOVE and not self._closed(e):
            self._land(e)  # lands in this very instant; nothing ranked before moves is still pending
        else:
            self._arm(e)

    def _resolve(self, step: str, then: Then) -> tuple[str, str | None]:
        """Template.resolve_target, remembered: templates are frozen and this is the hot path."""
        key = (step, id(then))
        move = self._moves.get(key)
        if move is None:
            move = self._moves[key] = self.template.resolve_target(step, then)
        return move

    def _land(self, e: Enrollment) -> None:
        if e.move_kind == "arrive":
            assert e.move_target is not None
            if self.all_actions:
                self._emit(e, "moved", e.step, to=e.move_target)
            self._arrive(e, e.move_target)
            return
        e.status = COMPLETED if e.move_kind == "complete" else EXITED
        e.phase, e.at = P_DONE, None
        self._emit(e, e.status, e.step, reason=e.move_target)
        self._arm(e)

    # ---- the rate limiter -----------------------------------------------------------------
    def _ensure_wake(self, channel: str, at: datetime | None) -> None:
        current = self.wake[channel]
        if at is None or (current is not None and current <= at):
            return
        self.wake[channel] = at
        self._push(at, RANK_LIMITER, channel, "limiter", channel)

    def _on_limiter(self, channel: str, at: datetime) -> None:
        if self.wake[channel] != at:
            return
        self.wake[channel] = None
        if self.state.paused:
            return  # resume wakes the limiter again
        queue, limiter, skipped = self.queues[channel], self.limiters[channel], []
        blocked = False
        pop, enr, attempt, has_room = heapq.heappop, self.enr, self._attempt, limiter.has_room  # the hot loop
        while queue:
            due, contact_id, key = queue[0]
            e = enr.get(contact_id)
            if e is None or e.phase != P_QUEUED or e.step != key or e.due != due:
                pop(queue)  # stale: the enrollment moved on (finished ones are P_DONE)
            elif e.removed:
                skipped.append(pop(queue))  # a paused enrollment does not hold others back
            elif not has_room(at):
                blocked = True
                break
            else:
                pop(queue)
                attempt(e, channel, limiter)
        for item in skipped:
            heapq.heappush(queue, item)
        if blocked:
            self._emit(None, "rate_limited", None, channel=channel)
            self._ensure_wake(channel, self._next_open(limiter.available_at(at)))

    def _attempt(self, e: Enrollment, channel: str, limiter: SlidingWindow) -> None:
        assert e.step is not None
        address = self.contacts.get(e.contact_id, EMPTY).get(CHANNEL_FIELD[channel])
        # A blank address (missing, null or whitespace) takes its turn, fails at once and uses no slot (SPEC §4.1).
        if address is None or (type(address) is str and not address.strip()):
            e.phase, e.at = P_FAILED, None
            self._emit(e, "send_failed", e.step, channel=channel, reason=f"blank {CHANNEL_FIELD[channel]}")
            self._arm(e)
            return
        if self.suppressed and str(address).strip().lower() in self.suppressed:
            self._emit(e, "suppressed", e.step, channel=channel)
            self._trigger(e, UNSUBSCRIBED)  # skipped, uses no slot; the enrollment exits
            return
        limiter.grant(self.now)
        self._send(e, channel)

    def _send(self, e: Enrollment, channel: str) -> None:
        assert e.step is not None
        step = self.steps[e.step]
        e.sent_at, e.steps_done = self.now, e.steps_done + 1
        if e.step not in e.sent_steps:
            e.sent_steps.append(e.step)
        self._emit(e, SENT[channel], e.step, attempt=e.attempt)
        if not step.conditions:
            self._trigger(e, NEXT)
            return
        cond = self.ncm[e.step]
        assert cond is not None and cond.within is not None
        e.phase, e.at = P_WAITING, self._after(self.now, cond.within)
        if self.all_actions:
            self._emit(e, "waiting", e.step, deadline=e.at)
        self._arm(e)

    # ---- inputs ---------------------------------------------------------------------------
    def _reject(self, inp: Input, reason: str) -> None:
        self.rejected.append(Rejected(inp, reason))

    def _on_input(self, inp: Input) -> None:
        if inp.at < self.activated_at:
            return self._reject(inp, "before the activation")
        if self.state.ended_at is not None:
            return self._reject(inp, "the sequence has ended")
        if inp.type in ("pause", "resume", "end", "edit"):
            return self._lifecycle(inp)
        e = self.enr.get(inp.contact or "")
        if e is None and not (inp.type == "member_added" and inp.contact in self.contacts):
            return self._reject(inp, f"unknown contact {inp.contact!r}")
        handler = getattr(self, f"_in_{inp.type}", None) if inp.type not in ENGAGEMENTS else self._engaged
        if handler is None:
            return self._reject(inp, f"unknown event type {inp.type!r}")
        reason = handler(e, inp)
        if reason:
            self._reject(inp, reason)
        return None

    def _lifecycle(self, inp: Input) -> None:
        if inp.type == "end":
            return self._end(inp.at)
        if inp.type == "edit":
            return self._edit(inp)
        if self.state.paused == (inp.type == "pause"):
            return self._reject(inp, f"the sequence is already {'paused' if self.state.paused else 'active'}")
        self.state.paused = inp.type == "pause"
        self._emit(None, "sequence_" + ("paused" if self.state.paused else "resumed"))
        if not self.state.paused:
            for e in self.enr.values():
                if e.held and not e.removed and not e.finished:
                    self._unhold(e)
            for ch, q in self.queues.items():
                if q:
                    self._ensure_wake(ch, self._next_open(self.now))
        return None

    def _edit(self, inp: Input) -> None:
        """Edit Sequence / Edit Branches: only while paused (SPEC §4); takes effect at its instant."""
        if not self.state.paused:
            return self._reject(inp, "a sequence can be edited only while paused")
        fields = inp.fields or {}
        if fields.get("activation") is not None:
            self._use_settings(Activation.model_validate(fields["activation"]))
        if fields.get("template") is not None:
            self._relocate(Template.model_validate(fields["template"]))
        self.edits.update({k: v for k, v in fields.items() if v is not None})
        self._emit(None, "sequence_edited")
        return None

    def _use_settings(self, activation: Activation) -> None:
        self.gates = gates_for(activation)
        self._open_cache.clear()
        self._after_cache.clear()
        limits = activation.rate_limits
        self.state.grants = {ch: list(lim.grants) for ch, lim in self.limiters.items()}
        pairs = {"email": limits.email, "sms": limits.sms} if limits else {}
        self.limiters = {ch: _limiter(ch, pairs, self.state) for ch in CHANNEL_FIELD}
        if self.gates.end is not None:
            self._push(self.gates.end, RANK_END, "", "end", None)

    def _relocate(self, new: Template) -> None:
        """Enrollments on deleted steps move on to the next surviving step of their branch (or complete)."""
        old = self.template
        self._use_template(new)
        for e in self.enr.values():
            if e.status != ACTIVE or e.step is None or e.step in self.steps:
                continue
            target = surviving_target(old, new, e.step)
            e.phase, e.move_kind, e.move_target = P_MOVE, ("arrive" if target else "complete"), target
            e.at, e.held = self._next_open(self.now), False
            self._emit(e, "relocated", e.step, to=target)
            self._arm(e)

    def _unhold(self, e: Enrollment) -> None:
        """What fell due while paused is due at the resume instant (entry: not held to the window)."""
        e.held = False
        e.at = self.now if e.phase == P_ENTER else self._next_open(self.now)
        self._arm(e)

    def _end(self, at: datetime) -> None:
        self.state.ended_at = at
        self._emit(None, "sequence_ended")
        for cid in sorted(self.enr):
            e = self.enr[cid]
            if e.status == ACTIVE:
                e.status, e.phase, e.at = ENDED, P_DONE, None
                self._emit(e, "ended", e.step)
            elif e.status == PENDING:
                e.status, e.phase, e.at = ENDED, P_DONE, None
            self.dirty.add(cid)

    def _in_member_added(self, e: Enrollment | None, inp: Input) -> str | None:
        if e is None:
            assert inp.contact is not None
            e = self.enr[inp.contact] = Enrollment(inp.contact)
            e.at = max(self.activated_at, self.gates.begin, inp.at)
            if self.gates.end is None or e.at < self.gates.end:
                self._arm(e)
            return None
        if not e.removed:
            return "already on the rollup"
        e.removed = False
        self._emit(e, "restored", e.step)
        if e.held and not self.state.paused and not e.finished:
            self._unhold(e)
        if e.phase == P_QUEUED and e.step is not None:
            channel = self.channel[e.step]
            assert channel is not None
            self._ensure_wake(channel, self._next_open(self.now))
        self.dirty.add(e.contact_id)
        return None

    def _in_member_removed(self, e: Enrollment | None, inp: Input) -> str | None:
        assert e is not None
        if e.removed:
            return "not on the rollup"
        e.removed = True
        self.dirty.add(e.contact_id)
        self._emit(e, "removed", e.step, how=inp.type)
        return None

    _in_remove_from_sequence = _in_member_removed

    def _in_contact_updated(self, e: Enrollment | None, inp: Input) -> str | None:
        assert inp.contact is not None
        self.contacts[inp.contact] = {**self.contacts.get(inp.contact, {}), **(inp.fields or {})}
        return None

    def _acting_on(self, e: Enrollment | None, inp: Input, phase: str, what: str) -> str | None:
        """Why a user action on a step cannot apply now, or None when it can."""
        if e is None or e.status != ACTIVE or e.step != inp.step:
            return f"contact is not on step {inp.step!r}"
        if e.phase != phase:
            return f"step {inp.step!r} has no {what}"
        if self._closed(e):
            return "paused"
        return None

    def _in_outcome(self, e: Enrollment | None, inp: Input) -> str | None:
        if e is not None and e.phase == P_FAILED and inp.outcome == "Retry":
            return self._in_retry(e, inp)
        reason = self._acting_on(e, inp, P_TASK, "task on the task list")
        if reason or e is None or e.step is None:
            return reason
        then = self.steps[e.step].then_for_outcome(inp.outcome or "")
        if then is None:
            return f"unknown outcome {inp.outcome!r}"
        e.steps_done += 1
        self._emit(e, "outcome", e.step, outcome=inp.outcome)
        self._trigger(e, then)
        return None

    def _in_move_next(self, e: Enrollment | None, inp: Input) -> str | None:
        reason = self._acting_on(e, inp, P_WAITING, "waiting automatic send")
        if reason or e is None:
            return reason
        self._deadline(e)
        return None

    def _in_retry(self, e: Enrollment | None, inp: Input) -> str | None:
        reason = self._acting_on(e, inp, P_FAILED, "failed send")
        if reason or e is None:
            return reason
        e.attempt += 1
        e.phase, e.at = P_DUE, self._next_open(self.now)  # the delay is not applied again
        self._emit(e, "retry", e.step)
        self._arm(e)
        return None

    def _engaged(self, e: Enrollment | None, inp: Input) -> str | None:
        assert e is not None
        if e.status == PENDING or inp.step is None or inp.step not in e.sent_steps:
            return f"nothing was sent on step {inp.step!r}"
        self._emit(e, inp.type, inp.step)
        if e.phase == P_WAITING and e.step == inp.step:
            for cond in self.steps[inp.step].conditions:
                if cond.when == inp.type:
                    self._trigger(e, cond.then)
                    break
        return None


def _limiter(channel: str, limits: Mapping[str, RateLimit | None], state: SequenceState) -> SlidingWindow:
    limit = limits.get(channel)
    if limit is None:
        return Unlimited()
    return SlidingWindow(limit.count, limit.per_seconds, state.grants.get(channel, []))
