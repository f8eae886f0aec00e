"""Results for comparing sequences: the compare figures with sends over time, and the table as CSV (issue 9).

Both build on `GET /metrics/compare` (`invoke`), so its visibility rules and figures are the only ones."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from seqflow_tasks import owner_db
from seqflow_tasks.api.owner_access import answer
from seqflow_tasks.api.registry import Ctx, reply, route

OWNER = "sequences:activate"
COLUMNS = ("name", "state", "active", "completed", "exited", "tasks_todo", "tasks_completed", "emails_sent",
           "sms_sent", "open_pct", "click_pct", "reply_pct", "bounce_pct", "median_completion_seconds")  # fmt: skip


@route("GET", "/metrics/results", "The compare figures plus sends per local day and channel, per sequence",
       permission=OWNER, tag="overview")  # fmt: skip
async def results(ctx: Ctx) -> web.Response:
    compared = await _compared(ctx)  # its own visibility checks: 422 without ids, 404 for one not visible
    async with ctx.deps.pool.acquire() as c:
        zones = {s["id"]: s["timezone"] for s in await ctx.deps.store.sequences(c, [s["id"] for s in compared])}
        for s in compared:
            s["sends_per_day"] = _days(await owner_db.sends_per_day(ctx.deps.store, c, s["id"], zones[s["id"]]))
    return reply({"sequences": compared})


async def _compared(ctx: Ctx) -> list[dict[str, Any]]:
    return list((await answer(ctx, "GET", "/metrics/compare"))["sequences"])


def _days(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    for r in found:
        day = r["day"].isoformat()
        days.setdefault(day, {"day": day, "email": 0, "sms": 0})[r["channel"]] = r["sends"]
    return list(days.values())


def compare_csv(compared: list[dict[str, Any]]) -> str:
    """The compare table (`GET /metrics/compare`'s sequences) as CSV: one row a sequence, conversion last."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*COLUMNS, "conversion"])
    for s in compared:
        funnel = "; ".join(f"{c['step']} {c['pct_of_entered']}%" for c in s.get("conversion", []))
        writer.writerow([*("" if s.get(k) is None else s[k] for k in COLUMNS), funnel])
    return out.getvalue()


@route("GET", "/metrics/compare.csv", "The compare table as a CSV download", permission=OWNER, tag="overview")
async def compare_download(ctx: Ctx) -> web.StreamResponse:
    return web.Response(text=compare_csv(await _compared(ctx)), content_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="compare.csv"'})  # fmt: skip
