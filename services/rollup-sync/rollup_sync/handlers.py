"""Apply one rollup command to rollup-sync's schema and say which membership events follow from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from rollup_sync.db import RollupStore
from seqflow.messaging.codec import PoisonMessage, decode_payload
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.rollup import (
    AddMember,
    ContactChanged,
    ContactUpserted,
    MemberAdded,
    MemberRemoved,
    RemoveMember,
    RollupCreated,
)

Handler = Callable[[RollupStore, asyncpg.Connection, Any, datetime], Awaitable[list[Envelope]]]


async def handle_command(store: RollupStore, conn: asyncpg.Connection, env: Envelope, now: datetime) -> list[Envelope]:
    """Apply a command once (by envelope id) in one transaction (a savepoint inside the batch's);
    PoisonMessage if it can never apply. A replay returns what the first application emitted, so a crash
    after the commit and before the broker's ack loses no membership event (consumers dedupe by id)."""
    payload = decode_payload(env)
    handler = HANDLERS.get(type(payload))
    if handler is None:
        raise PoisonMessage(f"{env.type!r} is not a rollup command")
    async with conn.transaction():
        if not await store.mark_processed(conn, env.id, now):
            return await store.emitted(conn, env.id)
        out = await handler(store, conn, payload, now)
        if out:
            await store.keep_emitted(conn, env.id, out)
        return out


async def on_rollup_created(
    store: RollupStore, conn: asyncpg.Connection, cmd: RollupCreated, now: datetime
) -> list[Envelope]:
    await store.upsert_rollup(conn, cmd.rollup_id, cmd.name, now)
    return []


async def on_contact_upserted(
    store: RollupStore, conn: asyncpg.Connection, cmd: ContactUpserted, now: datetime
) -> list[Envelope]:
    """Store the contact; an existing contact that really changed is announced to its consumers."""
    before = await store.get_contact(conn, cmd.contact.id)
    if before == cmd.contact:
        return []
    await store.save_contact(conn, cmd.contact, now)
    if before is None:
        return []  # nobody holds a copy yet: member_added will carry it
    return [_event("contact_changed", cmd.contact.id, ContactChanged(contact=cmd.contact, at=now), now)]


async def on_add_member(store: RollupStore, conn: asyncpg.Connection, cmd: AddMember, now: datetime) -> list[Envelope]:
    contact = await store.get_contact(conn, cmd.contact_id)
    if contact is None:
        raise PoisonMessage(f"add_member: unknown contact {cmd.contact_id!r} (upsert it first)")
    if not await store.add_member(conn, cmd.rollup_id, cmd.contact_id, cmd.at):
        return []
    added = MemberAdded(rollup_id=cmd.rollup_id, contact=contact, at=cmd.at)
    return [_event("member_added", cmd.contact_id, added, now)]


async def on_remove_member(
    store: RollupStore, conn: asyncpg.Connection, cmd: RemoveMember, now: datetime
) -> list[Envelope]:
    if not await store.remove_member(conn, cmd.rollup_id, cmd.contact_id):
        return []
    removed = MemberRemoved(rollup_id=cmd.rollup_id, contact_id=cmd.contact_id, at=cmd.at, how=cmd.how)
    return [_event("member_removed", cmd.contact_id, removed, now)]


def _event(type_: str, contact_id: str, payload: BaseModel, now: datetime) -> Envelope:
    """Membership events are keyed by contact id so one contact's events stay in order."""
    return Envelope.wrap(type_, contact_id, payload, now)


HANDLERS: dict[type[BaseModel], Handler] = {
    RollupCreated: on_rollup_created,
    ContactUpserted: on_contact_upserted,
    AddMember: on_add_member,
    RemoveMember: on_remove_member,
}
