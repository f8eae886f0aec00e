"""Templates: the list and the editor (branches, steps, conditions), also used for a paused sequence's
Edit Branches. Saving goes through the API's template routes, so its 422 names the field shown in red."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow_tasks.web import owner_form
from seqflow_tasks.web.owner_svg import branch_map
from seqflow_tasks.web.pages import View, page

LIST = "/ui/templates"
STARTER: dict[str, Any] = {"name": "", "owner": "", "branches": [{"key": "main", "steps": [
    {"key": "intro", "type": "auto_email", "email": {"from_alias": "", "subject": "", "body": ""}}]}]}  # fmt: skip


def can_activate(view: View) -> bool:
    """Only decides what to offer; the API refuses the activation itself to anyone without the permission."""
    perms = view.user.get("permissions") or []
    return "admin" in perms or "sequences:activate" in perms


@page("GET", LIST)
async def templates_list(view: View) -> web.StreamResponse:
    found = (await view.fetch("GET", "/templates"))["templates"]
    return view.render("owner/templates.html", templates=found, can_activate=can_activate(view))


def editor(view: View, template: dict[str, Any], action: str, *, status: int = 200, error: Any = None,
           mode: str = "template", **extra: Any) -> web.Response:  # fmt: skip
    """The editor page for `template` (a template document), with the API's error placed on its field."""
    model = owner_form.form_model(template)
    field, message = (error or {}).get("field"), (error or {}).get("error", "")
    return view.render(
        "owner/editor.html", status, model=model, action=action, mode=mode, drawing=branch_map(model),
        error_at=owner_form.error_place(field, model) if error else "", error_msg=owner_form.error_text(message, field),
        step_types=owner_form.STEP_TYPES, then_kinds=owner_form.THEN_KINDS, whens=owner_form.WHENS,
        saved=view.request.query.get("saved") == "1", can_activate=can_activate(view), **extra,
    )  # fmt: skip


@page("GET", f"{LIST}/new")
async def new_template(view: View) -> web.StreamResponse:
    starter = {**STARTER, "owner": view.user["id"]}
    return editor(view, starter, f"{LIST}/new")


@page("GET", f"{LIST}/{{id}}")
async def edit_template(view: View) -> web.StreamResponse:
    tid = view.request.match_info["id"]
    rec = await view.fetch("GET", "/templates/{id}", match={"id": tid})
    return editor(view, rec["template"], f"{LIST}/{tid}", template_id=tid)


@page("POST", f"{LIST}/new")
async def create_template(view: View) -> web.StreamResponse:
    return await _save(view, None)


@page("POST", f"{LIST}/{{id}}")
async def save_template(view: View) -> web.StreamResponse:
    """Save replaces the template; Save as new stores a copy and opens it."""
    tid = view.request.match_info["id"]
    return await _save(view, None if view.form.get("save") == "new" else tid)


async def _save(view: View, tid: str | None) -> web.StreamResponse:
    doc = owner_form.template_from_form(view.form.items())
    if tid is None:
        status, data = await view.call("POST", "/templates", body=doc)
    else:
        status, data = await view.call("PUT", "/templates/{id}", match={"id": tid}, body=doc)
    if status >= 400:
        action = f"{LIST}/{tid}" if tid else f"{LIST}/new"
        return editor(view, doc, action, status=status, error=data, template_id=tid)
    return view.redirect(f"{LIST}/{data['id']}?saved=1")


@page("GET", "/ui/sequences/{id}/branches")
async def edit_branches(view: View) -> web.StreamResponse:
    seq = await view.fetch("GET", "/sequences/{id}", match={"id": view.request.match_info["id"]})
    return editor(view, seq["template"], f"/ui/sequences/{seq['id']}/branches", mode="branches", sequence=seq)


@page("POST", "/ui/sequences/{id}/branches")
async def save_branches(view: View) -> web.StreamResponse:
    """Edit Branches of a paused sequence: the API refuses (409) unless it is paused."""
    sid = view.request.match_info["id"]
    doc = owner_form.template_from_form(view.form.items())
    status, data = await view.call("PUT", "/sequences/{id}/branches", match={"id": sid},
                                   body={"branches": doc["branches"]})  # fmt: skip
    if status >= 400:
        seq = await view.fetch("GET", "/sequences/{id}", match={"id": sid})
        return editor(view, {**seq["template"], "branches": doc["branches"]}, f"/ui/sequences/{sid}/branches",
                      status=status, error=data, mode="branches", sequence=seq)  # fmt: skip
    return view.redirect("/ui/overview?done=branches")
