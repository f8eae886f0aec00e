"""The `erased` input (the scheduler's part of erasing a contact): the unsubscribe path with reason `erased`.

America/New_York in December, Mon–Fri 08:00–17:00 local (= 13:00Z–22:00Z), activated Tue 2026-12-01 14:00Z.
"""

from __future__ import annotations

from datetime import datetime

from support.rules_scenarios import scenario, task

from seqflow.rules.simulate import Scenario, build_runtime
from seqflow.rules.state import Input


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_erased_contact_on_a_call_task_exits_at_that_instant_while_paused_and_outside_the_window() -> None:
    rt = build_runtime(Scenario.model_validate(scenario([task("call", kind="call"), task("follow")])))
    rt.advance(at("2026-12-01T15:00:00Z"))
    rt.submit(Input(at("2026-12-01T23:00:00Z"), "pause"))
    rt.submit(Input(at("2026-12-01T23:30:05Z"), "erased", "c1"))  # paused, and the window shut at 22:00Z
    rt.advance(at("2026-12-01T23:40:00Z"))
    exits = [(a.at, a.step, a.detail) for a in rt.actions if a.action == "exited"]
    assert exits == [(at("2026-12-01T23:30:05Z"), "call", {"reason": "erased"})]
    assert (rt.enr["c1"].status, rt.enr["c1"].at) == ("exited", None)


def test_erasing_a_contact_that_has_already_finished_is_refused_and_changes_nothing() -> None:
    rt = build_runtime(Scenario.model_validate(scenario([task("call", kind="call")])))
    rt.advance(at("2026-12-01T15:00:00Z"))
    rt.submit(Input(at("2026-12-01T15:10:00Z"), "unsubscribed", "c1"))
    rt.submit(Input(at("2026-12-01T15:20:00Z"), "erased", "c1"))
    rt.advance(at("2026-12-01T16:00:00Z"))
    assert [a.detail for a in rt.actions if a.action == "exited"] == [{"reason": "unsubscribed"}]
    assert [r.reason for r in rt.rejected] == ["the enrollment has already exited"]


def test_erasing_a_contact_the_sequence_never_held_is_refused() -> None:
    rt = build_runtime(Scenario.model_validate(scenario([task("call")])))
    rt.submit(Input(at("2026-12-01T15:20:00Z"), "erased", "nobody"))
    rt.advance(at("2026-12-01T16:00:00Z"))
    assert [r.reason for r in rt.rejected] == ["unknown contact 'nobody'"]
    assert "nobody" not in rt.enr
