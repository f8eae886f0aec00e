"""View Queue: enrollments past step one with a pending next step, and Move to Next Task Now."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from seqflow.domain.template import NO_CONDITION_MET
from seqflow_tasks.web import filters
from seqflow_tasks.web.page_tasks import options
from seqflow_tasks.web.pages import View, page

QUEUE = "/ui/queue"
FLASH = {"moved": "Moved on: the next step is due now (held to the send window)."}


def waiting_for(sequence: dict[str, Any] | None, step_key: str | None) -> str:
    """What a Waiting… step waits for, from the sequence's own template: `replied or clicked`."""
    if not sequence or not step_key:
        return ""
    steps = (s for b in sequence["template"]["branches"] for s in b["steps"])
    step = next((s for s in steps if s["key"] == step_key), {})
    whens = [c["when"] for c in step.get("conditions", []) if c["when"] != NO_CONDITION_MET]
    return " or ".join(whens)


async def sequences_by_id(view: View, ids: set[str]) -> dict[str, Any]:
    out = {}
    for sid in ids:
        status, data = await view.call("GET", "/sequences/{id}", match={"id": sid})
        out[sid] = data if status == 200 else None
    return out


@page("GET", QUEUE)
async def queue(view: View) -> web.StreamResponse:
    f = filters.picked(view.request.query)
    data = await view.fetch("GET", "/queue", query=filters.api_query(f))
    seqs = await sequences_by_id(view, {r["sequence_id"] for r in data["queue"]})
    rows = [{**r, "waiting_for": waiting_for(seqs[r["sequence_id"]], r["next_step"])} for r in data["queue"]]
    flash = FLASH.get(view.request.query.get("done", ""), "")
    return view.render("queue.html", rows=rows, f=f, list_qs=urlencode(f), flash=flash, **await options(view))


@page("POST", f"{QUEUE}/move-next")
async def move_next(view: View) -> web.StreamResponse:
    match = {"id": view.form.get("sequence_id", ""), "contact_id": view.form.get("contact_id", "")}
    await view.fetch("POST", "/sequences/{id}/enrollments/{contact_id}/move-next", match=match)
    f = filters.from_list_field(view.form.get("list", ""))
    return view.redirect(f"{QUEUE}?{urlencode({**f, 'done': 'moved'})}")
