"""A living style guide: every UI pattern of the recruiter screens rendered once with sample data."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow_tasks.web.pages import View, page

SAMPLE_TASKS = [
    {"id": 1, "contact_name": "Ada Lovelace", "type": "call", "step": "call", "sequence": "Python Q4",
     "due_at": "2026-12-01T14:00:00+00:00", "priority": "high", "error": False, "reason": None},
    {"id": 2, "contact_name": "Grace Hopper", "type": "manual_email", "step": "follow_up", "sequence": "Python Q4",
     "due_at": "2026-12-01T15:30:00+00:00", "priority": "normal", "error": False, "reason": None},
    {"id": 3, "contact_name": "Alan Turing", "type": "auto_email", "step": "intro", "sequence": "Python Q4",
     "due_at": "2026-12-01T16:00:00+00:00", "priority": "low", "error": True, "reason": "blank email"},
]  # fmt: skip
SAMPLE: dict[str, Any] = {
    "tasks": SAMPLE_TASKS, "counts": {"ALL": 3, "call": 1, "manual_email": 1, "auto_email": 1},
    "f": {"type": "call"}, "list_qs": "type=call", "selected": "1",
    "t": {"location": {"branch": "main", "step_index": 1}},
    "branch": [{"key": "intro", "type": "auto_email", "state": "done"},
               {"key": "call", "type": "call", "state": "current"},
               {"key": "follow_up", "type": "manual_email", "state": "ahead"}],
    "activities": [
        {"kind": "NOTE", "text": "Prefers mornings", "local_time": "2026-12-01 09:10 EST", "user_id": "alice"},
        {"kind": "SEQUENCE", "text": "Python Q4: task due at step call", "local_time": "2026-12-01 09:00 EST"}],
    "apage": 1, "apages": 2, "base": "/ui/patterns?",
}  # fmt: skip


@page("GET", "/ui/patterns")
async def patterns(view: View) -> web.StreamResponse:
    return view.render("patterns.html", **SAMPLE)
