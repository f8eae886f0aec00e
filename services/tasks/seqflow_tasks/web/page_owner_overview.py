"""The overview: a row per sequence with its figures (refreshed without a reload), the on/off toggle and
a menu per row — Edit Sequence / Edit Branches (paused), End (confirmed first), Archive (ended), Use as Template."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow_tasks.web.page_owner_activate import DAYS, schedule_from_form
from seqflow_tasks.web.page_owner_templates import can_activate
from seqflow_tasks.web.pages import View, page

OVERVIEW = "/ui/overview"
FLASH = {"activated": "Activated.", "paused": "Paused.", "resumed": "Resumed.", "ended": "Ended.",
         "archived": "Archived.", "branches": "Branches saved.", "settings": "Settings saved."}  # fmt: skip
ACTIONS = {"pause": "paused", "resume": "resumed", "end": "ended", "archive": "archived"}


async def rows(view: View, archived: bool) -> list[dict[str, Any]]:
    query = {"archived": "true"} if archived else {}
    figures = (await view.fetch("GET", "/overview", query=query))["sequences"]
    return [f for f in figures if archived == (f["state"] == "archived")]


@page("GET", OVERVIEW)
async def overview(view: View) -> web.StreamResponse:
    archived = view.request.query.get("archived") == "1"
    flash = FLASH.get(view.request.query.get("done", ""), "")
    return view.render("owner/overview.html", rows=await rows(view, archived), archived=archived, flash=flash,
                       can_activate=can_activate(view))  # fmt: skip


@page("GET", f"{OVERVIEW}/figures")
async def figures(view: View) -> web.StreamResponse:
    """The overview's numbers as JSON, for the page's polling (the API's own answer, through the bridge)."""
    return web.json_response(await view.fetch("GET", "/overview"), headers={"Cache-Control": "no-store"})


def sequence_id(view: View) -> str:
    return view.request.match_info["id"]


@page("POST", "/ui/sequences/{id}/{action:pause|resume|end|archive}")
async def change(view: View) -> web.StreamResponse:
    action = view.request.match_info["action"]
    await view.fetch("POST", f"/sequences/{{id}}/{action}", match={"id": sequence_id(view)})
    return view.redirect(f"{OVERVIEW}?done={ACTIONS[action]}")


@page("GET", "/ui/sequences/{id}/end")
async def confirm_end(view: View) -> web.StreamResponse:
    seq = await view.fetch("GET", "/sequences/{id}", match={"id": sequence_id(view)})
    return view.render("owner/end.html", sequence=seq)


@page("POST", "/ui/sequences/{id}/use-as-template")
async def use_as_template(view: View) -> web.StreamResponse:
    made = await view.fetch("POST", "/sequences/{id}/use-as-template", match={"id": sequence_id(view)})
    return view.redirect(f"/ui/templates/{made['id']}?saved=1")


@page("GET", "/ui/sequences/{id}/settings")
async def settings_form(view: View) -> web.StreamResponse:
    seq = await view.fetch("GET", "/sequences/{id}", match={"id": sequence_id(view)})
    return view.render("owner/settings.html", sequence=seq, v=settings_values(seq["activation"]), days=DAYS)


def settings_values(act: dict[str, Any]) -> dict[str, Any]:
    """The form's fields from the sequence's activation settings."""
    window, limits = act.get("send_window") or {}, act.get("rate_limits") or {}
    values = {"send_days": act.get("send_days") or list(DAYS), "window_start": window.get("start", ""),
              "window_stop": window.get("stop", ""), "end": act.get("end", ""),
              "team_members": ", ".join(act.get("team_members", []))}  # fmt: skip
    for ch in ("email", "sms"):
        values.update({f"{ch}_{k}": (limits.get(ch) or {}).get(k, "") for k in ("count", "per")})
    return values


@page("POST", "/ui/sequences/{id}/settings")
async def save_settings(view: View) -> web.StreamResponse:
    """Edit Sequence: the API refuses (409) unless the sequence is paused, and names a bad field (422)."""
    body = {"send_days": None, **schedule_from_form(view.form)}  # no days ticked: every day
    status, data = await view.call("PATCH", "/sequences/{id}", match={"id": sequence_id(view)}, body=body)
    if status < 400:
        return view.redirect(f"{OVERVIEW}?done=settings")
    seq = await view.fetch("GET", "/sequences/{id}", match={"id": sequence_id(view)})
    values = {**view.form, "send_days": view.form.getall("send_days", [])}
    return view.render("owner/settings.html", status, sequence=seq, v=values, days=DAYS, error=data)
