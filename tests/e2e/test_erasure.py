"""Erasing a contact (DELETE /contacts/{id}, GDPR Art. 17) through the four running services.

After the erasure no text or JSON column of any table of any service schema holds the contact's name,
email or phone; its enrollment exits at once (reason `erased`) and the overview counts it exited, not active;
the address stays suppressed as a hash; and only an admin or the owner of every rollup the contact is on may
do it.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import asyncpg
from support.api import Api, eventually, make_user
from support.kafka import Collector, produce_raw, wait_for

from seqflow.messaging.erasure import address_hash
from seqflow.stack import Stack

ERASED = {"id": "c-erase", "first_name": "Zenobia", "last_name": "Hopperton", "email": "zenobia.h@erase.example",
          "phone": "+15557770001"}  # fmt: skip
KEPT = {"id": "c-keep", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@x.example", "phone": "+15550001"}
NEEDLES = ["Zenobia", "Hopperton", "zenobia.h@erase.example", "5557770001"]
TEMPLATE: dict[str, Any] = {
    "name": "Erase", "owner": "alice", "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}",
                   "body": "Hello {{first_name}} {{last_name}}"}},
        {"key": "call", "type": "call", "script": "Hi {{first_name}}, about your role"}]}],
}  # fmt: skip
TEXT_COLUMNS = """
    SELECT table_schema, table_name, column_name FROM information_schema.columns
    WHERE table_schema LIKE $1 AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'ARRAY')
"""


async def columns_holding(dsn: str, schema_prefix: str, needles: list[str]) -> list[str]:
    """Every `schema.table.column` (text or JSON) of the stack's schemas in which any needle occurs."""
    patterns = [f"%{n}%" for n in needles]
    conn = await asyncpg.connect(dsn)
    try:
        found = []
        for schema, table, column in await conn.fetch(TEXT_COLUMNS, schema_prefix.replace("_", r"\_") + "%"):
            sql = f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE ANY($1::text[])'
            if await conn.fetchval(sql, patterns):
                found.append(f"{schema}.{table}.{column}")
        return found
    finally:
        await conn.close()


async def activate(alice: Api) -> str:
    template = await alice.ok("POST", "/templates", TEMPLATE)
    rollup = await alice.ok("POST", "/rollups", {"name": "Erase people"})
    await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": [ERASED, KEPT]})
    seq = await alice.ok("POST", "/sequences", {
        "name": "Erase Q4", "template_id": template["id"], "rollup_id": rollup["id"], "begin": "2026-12-01",
        "timezone": "America/New_York", "primary_user": "alice", "team_members": ["bob"]})  # fmt: skip
    return str(seq["id"])


async def overview_of(alice: Api, sequence_id: str) -> dict[str, Any]:
    return next(s for s in (await alice.ok("GET", "/overview"))["sequences"] if s["id"] == sequence_id)


async def test_an_erased_contact_is_gone_from_every_schema_while_the_overview_counts_stay(stack: Stack) -> None:
    await stack.wait_ready()
    async with aiohttp.ClientSession() as http:
        admin = Api(http, stack.api)
        alice, bob, eve = [await make_user(admin, uid) for uid in ("alice", "bob", "eve")]
        sid = await activate(alice)
        await wait_for(lambda: len(stack.sent_mail()) == 2, 60, "both emails")
        await eventually(lambda: alice.ok("GET", f"/tasks?sequence={sid}"), lambda t: t["counts"]["ALL"] == 2,
                         "both call tasks")  # fmt: skip
        await alice.ok("POST", "/contacts/c-erase/notes", {"text": "Zenobia Hopperton prefers calls after 4pm"})
        before = await eventually(lambda: overview_of(alice, sid), lambda o: o["emails_sent"] == 2, "the sends")
        assert await columns_holding(stack.dsn, stack.schema_prefix, NEEDLES)  # the check can see them

        assert (await eve.request("DELETE", "/contacts/c-erase"))[0] == 404  # cannot see it
        status, refused = await bob.request("DELETE", "/contacts/c-erase")  # sees it (team), owns no rollup
        assert (status, refused["field"]) == (403, "id")
        erased = await alice.ok("DELETE", "/contacts/c-erase")  # the owner of its only rollup
        assert erased["erased"] | {"tasks": 1} == {"contact": 1, "activities": erased["erased"]["activities"],
                                                   "notes": 1, "tasks": 1, "sends": 1, "memberships": 1}
        assert erased["suppressed_address_hashes"] == 2
        assert (await admin.request("DELETE", "/contacts/c-erase"))[0] == 404

        async def leftovers() -> list[str]:
            return await columns_holding(stack.dsn, stack.schema_prefix, NEEDLES)

        try:
            await eventually(leftovers, lambda found: found == [], "no trace of the contact in any schema")
        except AssertionError as exc:  # say what the services logged about it
            raise AssertionError(f"{exc}\n{trouble_in_logs(stack)}") from None
        stopped = await eventually(lambda: scheduler_enrollment(stack, "c-erase"), lambda e: e["status"] == "exited",
                                   "the enrollment exited")  # fmt: skip
        assert (stopped["phase"], stopped["at"]) == ("done", None)  # at once, although a call task was open
        await redeliver_member_added(stack, "c-erase")  # at-least-once: an old event may come again
        await eventually(lambda: scheduler_member_present(stack, "c-erase"), bool, "the old event applied again")
        assert await leftovers() == []
        after = await eventually(lambda: overview_of(alice, sid), lambda o: o["exited"] == before["exited"] + 1,
                                 "the overview counts the exit")  # fmt: skip
        assert (after["active"], after["emails_sent"], after["completed"]) == (
            before["active"] - 1, before["emails_sent"], before["completed"])  # fmt: skip
        tasks = await alice.ok("GET", f"/tasks?sequence={sid}")
        assert [t["contact_id"] for t in tasks["tasks"]] == ["c-keep"]
        assert await columns_holding(stack.dsn, stack.schema_prefix, ["Lovelace"])  # others are untouched
        assert await hashed_suppression(stack, ERASED["email"])


async def hashed_suppression(stack: Stack, address: str) -> bool:
    """The dispatcher keeps the erased address only as its hash, on the suppression list."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        sql = f'SELECT reason FROM "{stack.schema_prefix}dispatcher".suppression WHERE address = $1'
        return await conn.fetchval(sql, "sha256:" + address_hash(address)) == "erased"
    finally:
        await conn.close()


async def scheduler_enrollment(stack: Stack, contact_id: str) -> dict[str, Any]:
    """The scheduler's engine state of the contact's enrollment (`status`, `phase`, `at`: when it is due)."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        sql = f'SELECT state FROM "{stack.schema_prefix}scheduler".enrollments WHERE contact_id = $1'
        return dict(json.loads(await conn.fetchval(sql, contact_id)))
    finally:
        await conn.close()


def trouble_in_logs(stack: Stack) -> str:
    """The services' log lines about erasure, warnings and errors (for a failure message)."""
    lines = [f"{log.name}: {line[:300]}" for log in sorted((stack.workdir / "logs").glob("*.log"))
             for line in log.read_text(errors="replace").splitlines()
             if "erase" in line or '"WARNING"' in line or '"ERROR"' in line]  # fmt: skip
    return "\n".join(lines[-40:])


async def redeliver_member_added(stack: Stack, contact_id: str) -> None:
    """Produce the contact's original `member_added` message (same bytes, same envelope id) once more."""
    assert stack.broker is not None
    async with Collector(stack.broker.bootstrap, "rollup.membership") as membership:
        [original] = await wait_for(lambda: [m for m in membership.messages if m.key == contact_id.encode()
                                              and json.loads(m.value)["type"] == "member_added"], 30, "the event")
    await produce_raw(stack.broker.bootstrap, "rollup.membership", [(original.key, original.value)])


async def scheduler_member_present(stack: Stack, contact_id: str) -> bool:
    conn = await asyncpg.connect(stack.dsn)
    try:
        sql = f'SELECT bool_or(present) FROM "{stack.schema_prefix}scheduler".members WHERE contact_id = $1'
        return bool(await conn.fetchval(sql, contact_id))
    finally:
        await conn.close()
