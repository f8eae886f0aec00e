"""The contact page: the full record, its sequences with Remove from Sequence, activities and notes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow_tasks.web.pages import View, page
from seqflow_tasks.web.panel import linkedin, paged

CONTACT = "/ui/contacts/{id}"
FLASH = {"removed": "Removed from the sequence: the enrollment is paused in place and the contact left the list.",
         "note": "Note added."}  # fmt: skip
SHOWN_FIRST = ("first_name", "last_name", "email", "phone", "title", "company")


def fields(contact: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every field of the record, the usual ones first, custom fields by name; resume shown apart."""
    rest = sorted(k for k in contact if k not in (*SHOWN_FIRST, "id", "custom", "resume"))
    plain = [(k.replace("_", " ").capitalize(), contact.get(k)) for k in (*SHOWN_FIRST, *rest)]
    custom = [(k.replace("_", " "), v) for k, v in sorted((contact.get("custom") or {}).items())]
    return [(k, v) for k, v in plain + custom if v not in (None, "")]


def cid(view: View) -> str:
    return view.request.match_info["id"]


@page("GET", CONTACT)
async def contact_page(view: View) -> web.StreamResponse:
    acts = await view.fetch("GET", "/contacts/{id}/activities", match={"id": cid(view)})
    seqs = await view.fetch("GET", "/contacts/{id}/sequences", match={"id": cid(view)})
    shown, number, pages = paged(acts["activities"], view.request.query.get("apage", "1"))
    contact = acts["contact"]
    return view.render(
        "contact.html", contact=contact, fields=fields(contact), linkedin=linkedin(contact),
        sequences=seqs["sequences"], activities=shown, apage=number, apages=pages,
        notes=[a for a in acts["activities"] if a["kind"] == "NOTE"],
        flash=FLASH.get(view.request.query.get("done", ""), ""),
    )  # fmt: skip


@page("POST", f"{CONTACT}/remove")
async def remove_from_sequence(view: View) -> web.StreamResponse:
    match = {"id": view.form.get("sequence_id", ""), "contact_id": cid(view)}
    await view.fetch("POST", "/sequences/{id}/enrollments/{contact_id}/remove-from-sequence", match=match)
    return view.redirect(f"/ui/contacts/{cid(view)}?done=removed")


@page("POST", f"{CONTACT}/note")
async def add_note(view: View) -> web.StreamResponse:
    await view.fetch("POST", "/contacts/{id}/notes", match={"id": cid(view)}, body={"text": view.form.get("text", "")})
    return view.redirect(f"/ui/contacts/{cid(view)}?done=note")
