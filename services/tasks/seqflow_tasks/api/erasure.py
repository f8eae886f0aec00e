"""DELETE /contacts/{id}: erase a contact (GDPR Art. 17) — here at once, in the other services by event.

Who may (the policy module's terms): an admin, or a user who owns every rollup list the contact is on
(`owns_every`). A caller who cannot see the contact gets 404, one who sees it but may not erase it 403.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from seqflow.messaging.envelope import Envelope
from seqflow.messaging.erasure import ContactErased, address_hash
from seqflow_tasks import policy
from seqflow_tasks.api.registry import ApiError, Ctx, reply, route
from seqflow_tasks.erasure import erase_contact

OTHER_SERVICES = ["scheduler", "dispatcher", "rollup-sync"]
ROLLUPS_OF = (
    "SELECT l.rollup_id, r.owner, NOT EXISTS (SELECT 1 FROM {s}.members m "
    "WHERE m.rollup_id = l.rollup_id AND m.contact_id = $1) AS pending FROM "
    "(SELECT rollup_id FROM {s}.members WHERE contact_id = $1 UNION SELECT rollup_id FROM {s}.roster "
    "WHERE contact_id = $1) l LEFT JOIN {s}.rollups r ON r.id = l.rollup_id"
)


def owns_every(user_id: str, owners: dict[str, str | None]) -> bool:
    """Whether the user owns every rollup the contact is on (a contact on no rollup is nobody's)."""
    return bool(owners) and all(owner == user_id for owner in owners.values())


def addresses(data: dict[str, Any]) -> list[str]:
    return [address_hash(str(data[f])) for f in ("email", "phone") if str(data.get(f) or "").strip()]


async def erasable(ctx: Ctx, c: Any, cid: str) -> tuple[dict[str, Any], list[str]]:
    """The contact's data and rollups, once the caller may erase it and nothing about it is in flight."""
    rec = await ctx.deps.store.contact(c, cid)
    rollups = await c.fetch(ROLLUPS_OF.format(s=ctx.deps.store.schema), cid)
    if rec is None and not rollups:
        raise ApiError(404, "no such contact", "id")
    await policy.require_contact(ctx, c, cid)
    if not (policy.is_admin(ctx) or owns_every(policy.me(ctx), {r["rollup_id"]: r["owner"] for r in rollups})):
        raise ApiError(403, "only an admin or the owner of every rollup the contact is on may erase it", "id")
    if any(r["pending"] for r in rollups):  # erasing now would race rollup-sync re-creating the contact
        raise ApiError(409, "the contact is still being added to a rollup; try again in a few seconds", "id")
    return (rec["data"] if rec else {}), sorted(r["rollup_id"] for r in rollups)


@route("DELETE", "/contacts/{id}", "Erase a contact and its personal data everywhere (GDPR Art. 17)",
       rule=policy.OWNER, tag="contacts")  # fmt: skip
async def erase(ctx: Ctx) -> web.Response:
    cid, now, app = ctx.param("id"), ctx.deps.clock.now(), ctx.deps.app
    async with ctx.deps.pool.acquire() as c, c.transaction():
        data, rollups = await erasable(ctx, c, cid)
        event = ContactErased(contact_id=cid, address_hashes=addresses(data), at=now)
        envelope = Envelope.wrap("contact_erased", cid, event, now)
        await app.publisher.send_all(app.topic_names.contact_erasure, [envelope])
        erased = await erase_contact(c, ctx.deps.store.schema, cid)
    return reply({"contact_id": cid, "erased": erased, "rollups": rollups,
                  "suppressed_address_hashes": len(event.address_hashes), "erasing_in": OTHER_SERVICES})  # fmt: skip
