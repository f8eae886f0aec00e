"""Apply a batch of rollup commands and say which membership events follow from them.

The batch reads the contacts and memberships its commands touch in one go, applies the commands one after
the other in memory (so each sees what the ones before it did), then writes the result set-based.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from rollup_sync.db import Changes, Pair, RollupStore
from seqflow.messaging.base import ContactData
from seqflow.messaging.codec import PoisonMessage
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

Command = tuple[Envelope, BaseModel]  # an envelope and its decoded payload


@dataclass
class State:
    """The contacts and memberships a batch touches, as its commands so far left them."""

    contacts: dict[str, ContactData]
    members: set[Pair]
    changes: Changes = field(default_factory=lambda: Changes({}, {}, set(), {}))


Handler = Callable[[State, Any, datetime], list[Envelope]]


async def handle_batch(
    store: RollupStore, conn: asyncpg.Connection, commands: list[Command], now: datetime
) -> tuple[list[Envelope], dict[int, str]]:
    """Apply each command once (by envelope id), in order, inside the caller's transaction.

    Returns the membership events in command order and, by index, the reason of each command that can never
    apply (it changes nothing and is not recorded as applied). A replay returns what the first application
    emitted, so a crash after the commit and before the broker's ack loses no event (consumers dedupe by id).
    """
    poison = {i: f"{e.type!r} is not a rollup command" for i, (e, p) in enumerate(commands) if type(p) not in HANDLERS}
    ids = [env.id for i, (env, _) in enumerate(commands) if i not in poison]
    fresh = await store.mark_processed(conn, ids, now) if ids else set()
    replayed = await store.emitted(conn, [i for i in ids if i not in fresh]) if len(fresh) < len(ids) else {}
    state = State(*await store.load(conn, *_reads([p for env, p in commands if env.id in fresh])))
    out: list[Envelope] = []
    kept: dict[uuid.UUID, list[Envelope]] = {}
    forgotten: list[uuid.UUID] = []
    for i, (env, payload) in enumerate(commands):
        if i in poison:
            continue
        if env.id not in fresh:
            out.extend(replayed.pop(env.id, []))
            continue
        fresh.discard(env.id)  # the same id again in this batch is a replay of this one
        try:
            emitted = HANDLERS[type(payload)](state, payload, now)
        except PoisonMessage as exc:
            poison[i] = exc.reason
            forgotten.append(env.id)
            continue
        if emitted:
            kept[env.id] = emitted
            out.extend(emitted)
    await store.save(conn, state.changes, now)
    if kept:
        await store.keep_emitted(conn, kept)
    if forgotten:
        await store.forget(conn, forgotten)
    return out, poison


def _reads(payloads: list[BaseModel]) -> tuple[set[str], set[Pair]]:
    """The contact ids and memberships the commands look at."""
    contact_ids: set[str] = set()
    pairs: set[Pair] = set()
    for p in payloads:
        if isinstance(p, ContactUpserted):
            contact_ids.add(p.contact.id)
        elif isinstance(p, AddMember | RemoveMember):
            pairs.add((p.rollup_id, p.contact_id))
            if isinstance(p, AddMember):
                contact_ids.add(p.contact_id)
    return contact_ids, pairs


def on_rollup_created(state: State, cmd: RollupCreated, now: datetime) -> list[Envelope]:
    state.changes.rollups[cmd.rollup_id] = cmd.name
    return []


def on_contact_upserted(state: State, cmd: ContactUpserted, now: datetime) -> list[Envelope]:
    """Store the contact; an existing contact that really changed is announced to its consumers."""
    contact = cmd.contact
    before = state.contacts.get(contact.id)
    if before == contact:
        return []
    state.contacts[contact.id] = state.changes.contacts[contact.id] = contact
    if before is None:
        return []  # nobody holds a copy yet: member_added will carry it
    return [_event("contact_changed", contact.id, ContactChanged(contact=contact, at=now), now)]


def on_add_member(state: State, cmd: AddMember, now: datetime) -> list[Envelope]:
    contact = state.contacts.get(cmd.contact_id)
    if contact is None:
        raise PoisonMessage(f"add_member: unknown contact {cmd.contact_id!r} (upsert it first)")
    pair = (cmd.rollup_id, cmd.contact_id)
    if pair in state.members:
        return []
    state.members.add(pair)
    state.changes.joined[pair] = cmd.at
    added = MemberAdded(rollup_id=cmd.rollup_id, contact=contact, at=cmd.at)
    return [_event("member_added", cmd.contact_id, added, now)]


def on_remove_member(state: State, cmd: RemoveMember, now: datetime) -> list[Envelope]:
    pair = (cmd.rollup_id, cmd.contact_id)
    if pair not in state.members:
        return []
    state.members.discard(pair)
    state.changes.joined.pop(pair, None)  # joined earlier in this batch: never written
    state.changes.left.add(pair)
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
