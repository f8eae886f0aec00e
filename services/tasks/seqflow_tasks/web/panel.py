"""The task panel's content: the task detail, its contact, the branch drawing, activities and the draft."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from seqflow_tasks.web.pages import View

PAGE_SIZE = 8
MANUAL_SENDS = ("manual_email", "manual_sms")
LINKEDIN_KEYS = ("linkedin", "linkedin_url")


def branch_steps(sequence: Mapping[str, Any], location: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps of the task's branch, each marked done, current or ahead (for the small drawing)."""
    branch = next((b for b in sequence["template"]["branches"] if b["key"] == location["branch"]), None)
    if branch is None:
        return []
    at = location["step_index"]
    return [{"key": s["key"], "type": s["type"], "state": "done" if i < at else "current" if i == at else "ahead"}
            for i, s in enumerate(branch["steps"])]  # fmt: skip


def linkedin(contact: Mapping[str, Any]) -> str | None:
    """A LinkedIn URL from the contact's custom fields, only when it is a plain http(s) link."""
    custom = contact.get("custom") or {}
    for key in LINKEDIN_KEYS:
        url = str(custom.get(key) or contact.get(key) or "").strip()
        if urlsplit(url).scheme in ("http", "https"):
            return url
    return None


def paged(items: list[Any], raw: str) -> tuple[list[Any], int, int]:
    """One page of the activities (newest first), the page number and the number of pages."""
    pages = max(1, -(-len(items) // PAGE_SIZE))
    number = min(max(int(raw) if raw.isdigit() else 1, 1), pages)
    return items[(number - 1) * PAGE_SIZE : number * PAGE_SIZE], number, pages


async def panel_context(view: View, task_id: str, f: dict[str, str], query: Mapping[str, str]) -> dict[str, Any]:
    detail = await view.fetch("GET", "/tasks/{id}", match={"id": task_id})
    status, seq = await view.call("GET", "/sequences/{id}", match={"id": detail["sequence_id"]})
    status_a, acts = await view.call("GET", "/contacts/{id}/activities", match={"id": detail["contact_id"]})
    contact = acts["contact"] if status_a == 200 else {"id": detail["contact_id"], **detail["contact"]}
    activities = acts["activities"] if status_a == 200 else detail["activities"]
    shown, number, pages = paged(activities, query.get("apage", "1"))
    draft = None
    if detail["type"] in MANUAL_SENDS and not detail["error"] and detail["state"] == "open":
        draft = await view.fetch("GET", "/tasks/{id}/draft", match={"id": task_id})
    return {
        "t": detail, "contact": contact, "linkedin": linkedin(contact), "draft": draft,
        "branch": branch_steps(seq, detail["location"]) if status == 200 else [],
        "activities": shown, "apage": number, "apages": pages,
        "notes": [a for a in activities if a["kind"] == "NOTE"][:PAGE_SIZE],
        "here": urlencode({**f, "task": task_id}),
    }  # fmt: skip
