"""Edit Branches while paused (SPEC §4): where enrollments on deleted steps go.

An enrollment on a step that the edit deletes moves to the next step of its branch (in the old
order) that survives the edit, or completes when none does.
"""

from __future__ import annotations

from seqflow.domain.template import Template


def surviving_target(old: Template, new: Template, step: str) -> str | None:
    """The step an enrollment on `step` belongs on after the edit; None = complete."""
    kept = {s.key for s in new.steps()}
    if step in kept:
        return step
    branch_key, index = old.locate(step)
    branch = next(b for b in old.branches if b.key == branch_key)
    return next((s.key for s in branch.steps[index + 1 :] if s.key in kept), None)
