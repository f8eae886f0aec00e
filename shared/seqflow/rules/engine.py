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

from seqflow.domain.activation import RateLimit
from seqflow.domain.durations import Duration
from seqflow.domain.template import Template, Then
from seqflow.rules import inputs
from seqflow.rules.calendar import Gates, add_duration, next_open
from seqflow.rules.ratelimit import SlidingWindow, limiter_for
from seqflow.rules.state import (
    ACTIVE,
    CHANNEL_FIELD,
    COMPLETED,
    EXITED,
    FINISHED,
    GATE_INPUTS,
    P_DONE,
    P_DUE,
    P_ENTER,
    P_FAILED,
    P_MOVE,
    P_QUEUED,
    P_TASK,
    P_WAITING,
    RANK_DEADLINE,
    RANK_DUE_SEND,
    RANK_END,
    RANK_ENTER,
    RANK_GATE,
    RANK_INPUT,
    RANK_LIMITER,
    RANK_MOVE,
    RANK_TASK,
    Action,
    Enrollment,
    Input,
    Rejected,
    SequenceState,
)

SENT = {"email": "email_sent", "sms": "sms_sent"}

TIMER_RANKS = {P_ENTER: RANK_ENTER, P_MOVE: RANK_MOVE, P_WAITING: RANK_DEADLINE}

NEXT = Then(next=True)
EMPTY: dict[str, Any] = {}
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
        self.limiters = {ch: limiter_for((limits or {}).get(ch), self.state.grants.get(ch, [])) for ch in CHANNEL_FIELD}
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
            rank = RANK_DUE_SEND if self.auto[e.step or ""] else RANK_TASK
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
                inputs.apply_input(self, payload)
            elif self.state.ended_at is not None:
                continue
            elif kind == "limiter":
                self._on_limiter(payload, at)
            elif kind == "end" and at == self.gates.end:  # an edit may have moved the end since
                inputs.end_sequence(self, at)
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
            inputs.unsubscribe(self, e)  # skipped, uses no slot; the enrollment exits at this very instant
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
