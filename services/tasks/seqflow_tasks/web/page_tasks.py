"""The Tasks screen: the filtered list with per-type counts, live updates, and the task panel beside it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from seqflow_tasks.web import filters
from seqflow_tasks.web.pages import View, page
from seqflow_tasks.web.panel import panel_context

LIST = "/ui/tasks"
# What the screen says after an action; the URL carries only the key, never text to show.
FLASH = {"marked": "Marked.", "marked_next": "Marked. Here is the next task of the list.", "sent": "Sent.",
         "marked_sent": "Marked as sent.", "about": "About saved.", "note": "Note added.",
         "activity": "Activity added."}  # fmt: skip


async def list_context(view: View, f: dict[str, str]) -> dict[str, Any]:
    """The list and the count buttons: counts come from the list without the type filter, so every
    button shows how many tasks it would show."""
    everything = await view.fetch("GET", "/tasks", query=filters.api_query(f, without=("type",)))
    shown = await view.fetch("GET", "/tasks", query=filters.api_query(f)) if "type" in f else everything
    return {"tasks": shown["tasks"], "counts": everything["counts"], "f": f, "list_qs": urlencode(f),
            "selected": view.request.query.get("task", "")}  # fmt: skip


async def options(view: View) -> dict[str, Any]:
    sequences = (await view.fetch("GET", "/sequences"))["sequences"]
    users = sorted({u for s in sequences for u in (s["primary_user"], *s["team_members"])})
    return {"sequences": sequences, "users": users, "priorities": filters.PRIORITIES,
            "step_types": filters.STEP_TYPES}  # fmt: skip


@page("GET", LIST)
async def tasks_screen(view: View) -> web.StreamResponse:
    f = filters.picked(view.request.query)
    context = {**await list_context(view, f), **await options(view)}
    task_id = view.request.query.get("task", "")
    panel = await panel_context(view, task_id, f, view.request.query) if task_id.isdigit() else None
    flash = FLASH.get(view.request.query.get("done", ""), "")
    return view.render("tasks.html", has_panel=panel is not None, flash=flash, **context, **(panel or {}))


@page("GET", f"{LIST}/_list")
async def task_list_partial(view: View) -> web.StreamResponse:
    """The list alone, for the screen's polling: new tasks appear without a reload."""
    return view.render("_task_list.html", **await list_context(view, filters.picked(view.request.query)))


def back_to(f: dict[str, str], task: Any = None, done: str = "", **extra: Any) -> str:
    query = {**f, **({"task": task} if task else {}), **({"done": done} if done else {}), **extra}
    return f"{LIST}?{urlencode(query)}" if query else LIST


def task_id(view: View) -> str:
    return view.request.match_info["id"]


@page("POST", f"{LIST}/{{id}}/mark")
async def mark(view: View) -> web.StreamResponse:
    """Mark As: the API answers with the next task of the same filtered list, which the panel opens."""
    f = filters.from_list_field(view.form.get("list", ""))
    outcome = view.form.get("outcome", "")
    data = await view.fetch("POST", "/tasks/{id}/mark", match={"id": task_id(view)}, query=filters.api_query(f),
                            body={"outcome": outcome})  # fmt: skip
    nxt = data.get("next") or {}
    return view.redirect(back_to(f, nxt.get("id"), "marked_next" if nxt else "marked"))


@page("POST", f"{LIST}/{{id}}/send")
async def send(view: View) -> web.StreamResponse:
    """Send a manual email / SMS through the dispatcher; the task completes and the next one opens."""
    f = filters.from_list_field(view.form.get("list", ""))
    body = {k: view.form[k] for k in ("subject", "body") if k in view.form}
    data = await view.fetch("POST", "/tasks/{id}/send", match={"id": task_id(view)}, query=filters.api_query(f),
                            body=body)  # fmt: skip
    nxt = data.get("next") or {}
    return view.redirect(back_to(f, nxt.get("id"), "sent"))


@page("POST", f"{LIST}/{{id}}/mark-sent")
async def mark_sent(view: View) -> web.StreamResponse:
    f = filters.from_list_field(view.form.get("list", ""))
    data = await view.fetch("POST", "/tasks/{id}/mark-sent", match={"id": task_id(view)},
                            query=filters.api_query(f), body={})  # fmt: skip
    nxt = data.get("next") or {}
    return view.redirect(back_to(f, nxt.get("id"), "marked_sent"))


async def contact_of(view: View) -> str:
    """The task's contact, found through the task (so only a task the user may see gives one)."""
    detail = await view.fetch("GET", "/tasks/{id}", match={"id": task_id(view)})
    return str(detail["contact_id"])


ABOUT = ("first_name", "last_name", "email", "phone", "title", "company")


@page("POST", f"{LIST}/{{id}}/about")
async def save_about(view: View) -> web.StreamResponse:
    cid = await contact_of(view)
    about = {k: view.form[k].strip() or None for k in ABOUT if k in view.form}
    await view.fetch("PATCH", "/contacts/{id}", match={"id": cid}, body=about)
    f = filters.from_list_field(view.form.get("list", ""))
    return view.redirect(back_to(f, task_id(view), "about"))


@page("POST", f"{LIST}/{{id}}/note")
async def add_note(view: View) -> web.StreamResponse:
    cid = await contact_of(view)
    await view.fetch("POST", "/contacts/{id}/notes", match={"id": cid}, body={"text": view.form.get("text", "")})
    f = filters.from_list_field(view.form.get("list", ""))
    return view.redirect(back_to(f, task_id(view), "note"))


@page("POST", f"{LIST}/{{id}}/activity")
async def add_activity(view: View) -> web.StreamResponse:
    cid = await contact_of(view)
    body = {"kind": view.form.get("kind", "MANUAL"), "text": view.form.get("text", "")}
    await view.fetch("POST", "/contacts/{id}/activities", match={"id": cid}, body=body)
    f = filters.from_list_field(view.form.get("list", ""))
    return view.redirect(back_to(f, task_id(view), "activity"))
