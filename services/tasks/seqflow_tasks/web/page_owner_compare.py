"""Results: pick sequences and compare them side by side — rates, median time to complete, the per-step
funnel and sends over time as charts — and download the table as CSV (the API's compare, through the bridge)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow_tasks.api.results import compare_csv
from seqflow_tasks.web.owner_svg import bars, funnel
from seqflow_tasks.web.pages import HEADERS, View, page

ROWS = (("State", "state", ""), ("Active", "active", ""), ("Completed", "completed", ""), ("Exited", "exited", ""),
        ("Tasks to do", "tasks_todo", ""), ("Tasks done", "tasks_completed", ""), ("Emails sent", "emails_sent", ""),
        ("SMS sent", "sms_sent", ""), ("Open", "open_pct", "%"), ("Click", "click_pct", "%"),
        ("Reply", "reply_pct", "%"), ("Bounce", "bounce_pct", "%"))  # fmt: skip


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    days, rest = divmod(int(float(seconds)), 86_400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


@page("GET", "/ui/compare")
async def compare(view: View) -> web.StreamResponse:
    chosen = view.request.query.getall("sequence", [])
    sequences = (await view.fetch("GET", "/sequences"))["sequences"]
    results: list[dict[str, Any]] = []
    if chosen:
        results = (await view.fetch("GET", "/metrics/results", query={"sequence": chosen}))["sequences"]
    for r in results:
        r["median"] = duration(r.get("median_completion_seconds"))
        r["funnel"] = funnel(r["conversion"])
        r["sends_chart"] = bars(r["sends_per_day"], ("email", "sms"), height=120)
    return view.render("owner/compare.html", sequences=sequences, chosen=chosen, results=results, rows=ROWS,
                       csv_query=[("sequence", s) for s in chosen])  # fmt: skip


@page("GET", "/ui/compare.csv")
async def compare_download(view: View) -> web.StreamResponse:
    chosen = view.request.query.getall("sequence", [])
    compared = await view.fetch("GET", "/metrics/compare", query={"sequence": chosen})
    headers = {**HEADERS, "Content-Disposition": 'attachment; filename="compare.csv"'}
    return web.Response(text=compare_csv(compared["sequences"]), content_type="text/csv", headers=headers)
