"""Rollup lists for the owner's screens: list them, members with their enrollment, CSV import by chunks.

Adding contacts goes through the existing `POST /rollups/{id}/members` route (`invoke`), so an import
upserts, records the roster and publishes exactly as the API does.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seqflow.domain.errors import validation_issues
from seqflow.importer import csv_row_to_contact
from seqflow.messaging.base import ContactData
from seqflow_tasks import owner_db
from seqflow_tasks.api.owner_access import may_use_rollup
from seqflow_tasks.api.registry import ApiError, Ctx, find_route, invoke, reply, route
from seqflow_tasks.api.rollups import MembersIn, known_rollup

OWNER = "sequences:activate"


@route("GET", "/rollups", "The rollup lists you may use, their size and the sequence holding each", permission=OWNER,
       tag="rollups")  # fmt: skip
async def list_rollups(ctx: Ctx) -> web.Response:
    async with ctx.deps.pool.acquire() as c:
        found = await owner_db.rollups(ctx.deps.store, c)
    return reply({"rollups": [r for r in found if await may_use_rollup(ctx, r["id"])]})


@route("GET", "/rollups/{id}/members", "Members with the sequence and step each is on", permission=OWNER,
       tag="rollups")  # fmt: skip
async def rollup_members(ctx: Ctx) -> web.Response:
    rid = await known_rollup(ctx)
    async with ctx.deps.pool.acquire() as c:
        found = await owner_db.rollup_members(ctx.deps.store, c, rid)
    out = [{"contact_id": m["contact_id"], "contact": m["data"] or {"id": m["contact_id"]},
            "on_rollup": bool(m["on_roster"]), "sequence_id": m["sequence_id"], "sequence": m["sequence"],
            "status": m["status"], "step": m["step"]} for m in found]  # fmt: skip
    return reply({"id": rid, "members": out})


class ImportIn(BaseModel):
    """One chunk of a CSV import: the whole file each time (a header row, then one contact a row)."""

    model_config = ConfigDict(extra="forbid")
    csv: str = Field(min_length=1)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=500, ge=1, le=1000)


def parse_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    if reader.fieldnames is None or "id" not in reader.fieldnames:
        raise ApiError(422, "the CSV header row must have an 'id' column", "csv")
    return list(reader)


def check_row(number: int, row: dict[str, Any]) -> ContactData | dict[str, Any]:
    """The contact of one CSV row, or the error that row gets (row 1 is the first after the header)."""
    if None in row:
        return {"row": number, "field": None, "error": "more cells than header columns"}
    try:
        return ContactData.model_validate(csv_row_to_contact(row))
    except ValidationError as exc:
        field, what = validation_issues(exc)[0]
        return {"row": number, "field": field, "error": what}


@route("POST", "/rollups/{id}/import", "Import one chunk of a CSV file; bad rows are reported, good ones added",
       body=ImportIn, permission=OWNER, tag="rollups")  # fmt: skip
async def import_chunk(ctx: Ctx) -> web.Response:
    await known_rollup(ctx)
    body: ImportIn = ctx.body
    rows = parse_rows(body.csv)
    end = min(len(rows), body.offset + body.limit)
    checked = [check_row(n + 1, rows[n]) for n in range(body.offset, end)]
    good = [x for x in checked if isinstance(x, ContactData)]
    if good:
        add = Ctx(ctx.request, ctx.deps, ctx.user, MembersIn(contacts=good))
        await invoke(find_route("POST", "/rollups/{id}/members"), add)
    errors = [x for x in checked if isinstance(x, dict)]
    return reply({"total": len(rows), "next": end, "added": len(good), "errors": errors})
