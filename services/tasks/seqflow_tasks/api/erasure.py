"""DELETE /contacts/{id}: erase a contact (GDPR Art. 17) — here at once, in the other services by event.

Who may: an admin, or a user who owns every rollup list the contact is on (`may_erase`). Rollup owners come
from the rollups table's `owner` column where it exists (read through to_jsonb so this module works before
and after that column), so pointing `may_erase` at the policy module is a one-line change.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow.messaging.envelope import Envelope
from seqflow.messaging.erasure import ContactErased, address_hash
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.erasure import erase_contact

OTHER_SERVICES = ["scheduler", "dispatcher", "rollup-sync"]
ROLLUPS_OF = (
    "SELECT l.rollup_id, to_jsonb(r) ->> 'owner' AS owner FROM "
    "(SELECT rollup_id FROM {s}.members WHERE contact_id = $1 UNION SELECT rollup_id FROM {s}.roster "
    "WHERE contact_id = $1) l LEFT JOIN {s}.rollups r ON r.id = l.rollup_id"
)


def may_erase(user: dict[str, Any], owners: dict[str, str | None]) -> bool:
    """Admin, or the owner of every rollup the contact is on (a contact on no rollup: admin only)."""
    if "admin" in (user.get("permissions") or []):
        return True
    return bool(owners) and all(owner == user.get("id") for owner in owners.values())


def addresses(data: dict[str, Any]) -> list[str]:
    return [address_hash(str(data[f])) for f in ("email", "phone") if str(data.get(f) or "").strip()]


@route("DELETE", "/contacts/{id}", "Erase a contact and its personal data everywhere (GDPR Art. 17)",
       permission="sequences:activate", tag="contacts")  # fmt: skip
async def erase(ctx: Ctx) -> web.Response:
    cid, schema, now = ctx.param("id"), ctx.deps.store.schema, ctx.deps.clock.now()
    async with ctx.deps.pool.acquire() as c, c.transaction():
        rec = await ctx.deps.store.contact(c, cid)
        owners = {r["rollup_id"]: r["owner"] for r in await c.fetch(ROLLUPS_OF.format(s=schema), cid)}
        if rec is None and not owners:
            raise ApiError(404, "no such contact", "id")
        if not may_erase(ctx.user, owners):
            raise ApiError(403, "only an admin or the owner of every rollup the contact is on may erase it", "id")
        hashes = addresses(rec["data"] if rec else {})
        event = ContactErased(contact_id=cid, address_hashes=hashes, at=now)
        await ctx.deps.app.publisher.send_all(ctx.deps.app.topic_names.contact_erasure,
                                              [Envelope.wrap("contact_erased", cid, event, now)])  # fmt: skip
        erased = await erase_contact(c, schema, cid)
    return reply({"contact_id": cid, "erased": erased, "rollups": sorted(owners),
                  "suppressed_address_hashes": len(hashes), "erasing_in": OTHER_SERVICES})  # fmt: skip
