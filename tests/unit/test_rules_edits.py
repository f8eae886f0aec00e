"""Edit Sequence / Edit Branches while paused (SPEC §4), on the pure engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.edits import surviving_target
from seqflow.rules.engine import Runtime
from seqflow.rules.gates import gates_for
from seqflow.rules.state import Input

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # Tuesday 09:00 New York
ACT = {"name": "e", "begin": "2026-12-01", "timezone": "America/New_York", "primary_user": "alice",
       "send_window": {"start": "08:00", "stop": "17:00"}}  # fmt: skip


def calls(*keys: str) -> dict[str, Any]:
    return {"name": "t", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": k, "type": "call"} for k in keys]}]}  # fmt: skip


def runtime(template: dict[str, Any]) -> Runtime:
    act = Activation.model_validate(ACT)
    rt = Runtime(Template.model_validate(template), gates_for(act), T0, {"c1": {"id": "c1"}})
    rt.submit(Input(T0, "member_added", "c1"))
    return rt


def at(h: int, m: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, h, m, tzinfo=UTC)


def seen(rt: Runtime) -> list[tuple[datetime, str | None, str]]:
    return [(a.at, a.step, a.action) for a in rt.actions if a.action in ("task_due", "relocated", "completed")]


def test_the_next_surviving_step_of_the_branch_takes_a_deleted_steps_enrollments() -> None:
    old, new = Template.model_validate(calls("a", "b", "c", "d")), Template.model_validate(calls("a", "d"))
    assert (surviving_target(old, new, "b"), surviving_target(old, new, "a")) == ("d", "a")
    assert surviving_target(old, Template.model_validate(calls("a")), "c") is None


def test_an_enrollment_on_a_deleted_step_moves_to_the_next_step_at_the_resume() -> None:
    rt = runtime(calls("a", "b", "c"))
    rt.submit(Input(at(15), "outcome", "c1", "a", "Done"))
    rt.submit(Input(at(16), "pause"))
    rt.submit(Input(at(17), "edit", fields={"template": calls("a", "c")}))
    rt.submit(Input(at(18), "resume"))
    rt.advance(at(23))
    assert seen(rt) == [(T0, "a", "task_due"), (at(15), "b", "task_due"), (at(17), "b", "relocated"),
                        (at(18), "c", "task_due")]  # fmt: skip


def test_deleting_the_last_steps_completes_the_enrollment() -> None:
    rt = runtime(calls("a", "b"))
    rt.submit(Input(at(16), "pause"))
    rt.submit(Input(at(17), "edit", fields={"template": calls("z")}))  # a and b both go
    rt.submit(Input(at(18), "resume"))
    rt.advance(at(23))
    assert seen(rt)[-1] == (at(18), "a", "completed")


def test_an_edit_of_an_active_sequence_is_refused() -> None:
    rt = runtime(calls("a", "b"))
    rt.submit(Input(at(16), "edit", fields={"template": calls("b")}))
    rt.advance(at(23))
    assert [r.reason for r in rt.rejected] == ["a sequence can be edited only while paused"]
    assert rt.edits == {}


def test_a_new_send_window_applies_after_the_resume() -> None:
    rt = runtime(calls("a", "b"))
    rt.submit(Input(at(15), "pause"))
    rt.submit(Input(at(15, 30), "outcome", "c1", "a", "Done"))  # refused: paused
    narrow = {**ACT, "send_window": {"start": "12:00", "stop": "13:00"}}
    rt.submit(Input(at(16), "edit", fields={"activation": narrow}))
    rt.submit(Input(at(19), "resume"))  # 14:00 New York: the new window is closed until tomorrow 12:00
    rt.submit(Input(at(20), "outcome", "c1", "a", "Done"))  # held to the window
    rt.advance(at(23, 59, day=2))
    assert seen(rt)[-1] == (at(17, day=2), "b", "task_due")
    assert rt.edits["activation"] == narrow
