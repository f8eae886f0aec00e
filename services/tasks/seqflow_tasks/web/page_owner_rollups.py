"""Rollup lists: list and create; members with the sequence and step each is on; add a contact; import a
CSV chunk by chunk (progress and refused rows shown by owner.js); remove a member, saying what that does."""

from __future__ import annotations

from aiohttp import web

from seqflow_tasks.web.pages import View, page

LISTS = "/ui/rollups"
CONTACT_FIELDS = ("id", "first_name", "last_name", "email", "phone", "company", "title")
FLASH = {"created": "Rollup list created.", "added": "Contact added.", "removed": "Member removed."}


@page("GET", LISTS)
async def rollup_lists(view: View) -> web.StreamResponse:
    found = (await view.fetch("GET", "/rollups"))["rollups"]
    return view.render("owner/rollups.html", rollups=found, error=None)


@page("POST", LISTS)
async def create_rollup(view: View) -> web.StreamResponse:
    status, data = await view.call("POST", "/rollups", body={"name": view.form.get("name", "")})
    if status >= 400:
        found = (await view.fetch("GET", "/rollups"))["rollups"]
        return view.render("owner/rollups.html", status, rollups=found, error=data)
    return view.redirect(f"{LISTS}/{data['id']}?done=created")


def rid(view: View) -> str:
    return view.request.match_info["id"]


async def members_page(view: View, status: int = 200, **extra: object) -> web.Response:
    data = await view.fetch("GET", "/rollups/{id}/members", match={"id": rid(view)})
    rollup = await view.fetch("GET", "/rollups/{id}", match={"id": rid(view)})
    return view.render("owner/rollup.html", status, rollup=rollup, members=data["members"], fields=CONTACT_FIELDS,
                       flash=FLASH.get(view.request.query.get("done", ""), ""), **extra)  # fmt: skip


@page("GET", f"{LISTS}/{{id}}")
async def rollup(view: View) -> web.StreamResponse:
    return await members_page(view)


@page("POST", f"{LISTS}/{{id}}/add")
async def add_contact(view: View) -> web.StreamResponse:
    contact = {k: view.form.get(k, "").strip() for k in CONTACT_FIELDS if view.form.get(k, "").strip()}
    status, data = await view.call("POST", "/rollups/{id}/members", match={"id": rid(view)},
                                   body={"contacts": [contact]})  # fmt: skip
    if status >= 400:
        return await members_page(view, status, error=data, v=dict(view.form))
    return view.redirect(f"{LISTS}/{rid(view)}?done=added")


@page("POST", f"{LISTS}/{{id}}/import")
async def import_chunk(view: View) -> web.StreamResponse:
    """One chunk of the CSV import, for the page's script: the API's answer as JSON, its status kept."""
    body = {"csv": view.form.get("csv", ""), "offset": view.form.get("offset", "0")}
    status, data = await view.call("POST", "/rollups/{id}/import", match={"id": rid(view)}, body=body)
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})


@page("POST", f"{LISTS}/{{id}}/members/{{contact}}/remove")
async def remove_member(view: View) -> web.StreamResponse:
    await view.fetch("DELETE", "/rollups/{id}/members/{contact_id}",
                     match={"id": rid(view), "contact_id": view.request.match_info["contact"]})  # fmt: skip
    return view.redirect(f"{LISTS}/{rid(view)}?done=removed")
