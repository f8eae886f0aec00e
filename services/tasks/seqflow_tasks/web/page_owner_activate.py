"""Activate a template (the seed's "Activating a Sequence"), with a dry-run Preview before anything starts.

Preview and Activate post the same form: Preview asks `POST /sequences/preview` and draws its answer, Activate
asks `POST /sequences`. The API's 409 about from aliases becomes the Rewrite / Cancel prompt; any other
409 or 422 is shown next to the field it names, with the API's status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDictProxy

from seqflow_tasks.web.owner_svg import bars
from seqflow_tasks.web.pages import View, page

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London",
         "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney")  # fmt: skip
KINDS = ("email", "sms", "task", "failed")


def schedule_from_form(form: MultiDictProxy[str]) -> dict[str, Any]:
    """Days, window, team and rate limits of the form (activation and Edit Sequence share them); a blank
    optional field is left out, which the API reads as every day, all day, no limit."""
    body: dict[str, Any] = {"team_members": [u.strip() for u in form.get("team_members", "").split(",") if u.strip()]}
    if days := form.getall("send_days", []):
        body["send_days"] = days
    if form.get("window_start") or form.get("window_stop"):
        body["send_window"] = {"start": form.get("window_start", ""), "stop": form.get("window_stop", "")}
    limits = {ch: {"count": form.get(f"{ch}_count", "").strip(), "per": form.get(f"{ch}_per", "").strip()}
              for ch in ("email", "sms") if form.get(f"{ch}_count", "").strip()}  # fmt: skip
    if limits:
        body["rate_limits"] = limits
    if form.get("end", "").strip():
        body["end"] = form.get("end", "").strip()
    return body


def activation_from_form(form: MultiDictProxy[str], template_id: str) -> dict[str, Any]:
    """The API body of the activation form."""
    text = {k: form.get(k, "").strip() for k in ("name", "rollup_id", "begin", "timezone", "primary_user")}
    body = {k: v for k, v in text.items() if v or k in ("name", "begin", "timezone")}
    body.update(template_id=template_id, **schedule_from_form(form))
    if form.get("rewrite_aliases") in ("true", "false"):
        body["rewrite_aliases"] = form.get("rewrite_aliases") == "true"
    return body


def local(value: Any, zone: str) -> str:
    """An API instant in the sequence's time zone, as a person reads it."""
    if not value:
        return ""
    return datetime.fromisoformat(str(value)).astimezone(ZoneInfo(zone)).strftime("%a %-d %b %Y %H:%M %Z")


def waited(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min"


def preview_view(out: dict[str, Any]) -> dict[str, Any]:
    """The preview answer with its chart and its instants in the sequence's own zone."""
    zone = out["timezone"]
    held = {ch: {**h, "longest": waited(h["longest_seconds"]), "mean": waited(h["mean_seconds"]),
                 "first": local(h["first_due"], zone)} for ch, h in out["rate_limited"].items()}  # fmt: skip
    blank = [{**f, "at": local(f["at"], zone)} for f in out["blank_addresses"]]
    return {**out, "chart": bars(out["days"], KINDS), "last": local(out["last_finish"], zone),
            "horizon": local(out["until"], zone), "held": held, "blank": blank}  # fmt: skip


async def form_page(view: View, tid: str, values: dict[str, Any], status: int = 200, **extra: Any) -> web.Response:
    template = await view.fetch("GET", "/templates/{id}", match={"id": tid})
    rollups = (await view.fetch("GET", "/rollups"))["rollups"]
    return view.render("owner/activate.html", status, tpl=template, rollups=rollups, v=values, days=DAYS,
                       zones=ZONES, **extra)  # fmt: skip


@page("GET", "/ui/templates/{id}/activate")
async def activate_form(view: View) -> web.StreamResponse:
    tid = view.request.match_info["id"]
    values = {"primary_user": view.user["id"], "timezone": "UTC", "send_days": list(DAYS[:5]),
              "begin": view.request.query.get("begin", "")}  # fmt: skip
    return await form_page(view, tid, values)


@page("POST", "/ui/templates/{id}/activate")
async def activate(view: View) -> web.StreamResponse:
    tid = view.request.match_info["id"]
    body = activation_from_form(view.form, tid)
    values = {**view.form, "send_days": view.form.getall("send_days", [])}
    if view.form.get("action") == "preview":
        status, data = await view.call("POST", "/sequences/preview", body=body)
        if status < 400:
            return await form_page(view, tid, values, preview=preview_view(data))
        return await form_page(view, tid, values, status, error=data)
    status, data = await view.call("POST", "/sequences", body=body)
    if status < 400:
        return view.redirect("/ui/overview?done=activated")
    aliases = data.get("steps") if status == 409 and data.get("field") == "rewrite_aliases" else None
    return await form_page(view, tid, values, status, error=None if aliases else data, aliases=aliases)
