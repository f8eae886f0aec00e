"""A template's checks across its steps: unique keys, known goto targets, and no cycle of moves that all
happen in the same instant. `Template` runs them when it is validated."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from seqflow.domain.errors import Issue

if TYPE_CHECKING:
    from seqflow.domain.template import Step, Template


def _step_paths(t: Template) -> Iterator[tuple[str, Step]]:
    for bi, b in enumerate(t.branches):
        for si, s in enumerate(b.steps):
            yield f"branches[{bi}].steps[{si}]", s


def key_issues(t: Template) -> list[Issue]:
    issues: list[Issue] = []
    branch_seen: dict[str, str] = {}
    for bi, b in enumerate(t.branches):
        path = f"branches[{bi}]"
        if b.key in branch_seen:
            issues.append((f"{path}.key", f"duplicate branch key {b.key!r} (also {branch_seen[b.key]})"))
        branch_seen.setdefault(b.key, path)
    step_seen: dict[str, str] = {}
    for path, s in _step_paths(t):
        if s.key in step_seen:
            issues.append((f"{path}.key", f"duplicate step key {s.key!r} (also {step_seen[s.key]})"))
        step_seen.setdefault(s.key, path)
    return issues


def target_issues(t: Template) -> list[Issue]:
    steps = {s.key for b in t.branches for s in b.steps}
    branches = {b.key for b in t.branches}
    issues: list[Issue] = []
    for path, s in _step_paths(t):
        for ci, c in enumerate(s.conditions):
            at = f"{path}.conditions[{ci}].then"
            if c.then.goto_step is not None and c.then.goto_step not in steps:
                issues.append((f"{at}.goto_step", f"unknown step {c.then.goto_step!r}"))
            if c.then.goto_branch is not None and c.then.goto_branch not in branches:
                issues.append((f"{at}.goto_branch", f"unknown branch {c.then.goto_branch!r}"))
    return issues


def _instant_move(t: Template, step: Step) -> str | None:
    """The step an automatic zero-delay step moves to in the same instant it is reached, if any (§4.1)."""
    if not step.is_auto or not step.delay.is_zero:
        return None
    if not step.conditions:
        return t.next_step_key(step.key)  # `next`: the following step, or none at the end of the branch
    ncm = step.no_condition_met
    if ncm is None or ncm.within is None or not ncm.within.is_zero:
        return None
    move = t.resolve_target(step.key, ncm.then)
    return move.value if move.action == "arrive" else None


def cycle_issues(t: Template) -> list[Issue]:
    """Each step has at most one instant move, so following them from every step finds every cycle."""
    edges = {s.key: _instant_move(t, s) for s in t.steps()}
    paths = {s.key: p for p, s in _step_paths(t)}
    reported: set[str] = set()
    issues: list[Issue] = []
    for start in edges:
        cycle = _cycle_from(start, edges)
        if cycle and cycle[0] not in reported:
            reported.update(cycle)
            chain = " -> ".join([*cycle, cycle[0]])
            issues.append((paths[cycle[0]], f"cycle of moves that all happen at once: {chain}"))
    return issues


def _cycle_from(start: str, edges: Mapping[str, str | None]) -> list[str]:
    trail: list[str] = []
    node: str | None = start
    while node is not None and node not in trail:
        trail.append(node)
        node = edges[node]
    return trail[trail.index(node) :] if node is not None else []
