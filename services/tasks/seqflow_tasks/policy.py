"""Who may do what: the route rules `registry.invoke` checks, and the object checks handlers and pages call.

Two layers (the README's "Permissions" table is the written form):
- a **route rule** says which users may call a route at all (by permission); `registry.invoke` is the one
  place it runs, for the JSON API and the web pages alike;
- an **object check** says whether this user may see or change this template, rollup, contact, sequence or
  task: owners act on their own objects, the primary user and team members of a sequence work its tasks and
  see its contacts, admins see everything. An object the caller may not see answers 404 (its existence is
  not disclosed); one they may see but not change answers 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqflow_tasks.db import Conn, Row
from seqflow_tasks.errors import ApiError

if TYPE_CHECKING:
    from seqflow_tasks.api.registry import Ctx

ADMIN = "admin"
ACTIVATE = "sequences:activate"
TASKS_MINE = "tasks:mine"
PERMISSIONS = (ACTIVATE, TASKS_MINE, ADMIN)


@dataclass(frozen=True)
class Rule:
    """Which callers a route admits: anyone (`public`), any signed-in user, or holders of any of `anyof`."""

    name: str
    doc: str
    anyof: frozenset[str] = frozenset()
    public: bool = False

    def allows(self, user: Row) -> bool:
        perms = set(user.get("permissions") or ())
        return self.public or ADMIN in perms or not self.anyof or bool(perms & self.anyof)


PUBLIC = Rule("public", "no token; the request itself is signed (tracking links, webhooks) or it is the docs",
              public=True)  # fmt: skip
SIGNED_IN = Rule("signed-in", "any valid token; the handler checks the object (e.g. only your own token)")
WORKER = Rule("worker", f"{TASKS_MINE} or {ACTIVATE}; only sequences the caller is on",
              frozenset({TASKS_MINE, ACTIVATE}))  # fmt: skip
OWNER = Rule("owner", f"{ACTIVATE}; only the caller's own objects", frozenset({ACTIVATE}))
ADMIN_ONLY = Rule("admin", "admin only", frozenset({ADMIN}))
RULES = {r.name: r for r in (PUBLIC, SIGNED_IN, WORKER, OWNER, ADMIN_ONLY)}


def needs(permission: str) -> Rule:
    """The rule of a route declared with `permission=` (the registry's shorthand)."""
    return {ACTIVATE: OWNER, ADMIN: ADMIN_ONLY, TASKS_MINE: WORKER}.get(permission) or Rule(
        f"needs {permission}", permission, frozenset({permission})
    )


def is_admin(ctx: Ctx) -> bool:
    return ADMIN in (ctx.user.get("permissions") or ())


def me(ctx: Ctx) -> str:
    return str(ctx.user.get("id"))


# ---- templates -----------------------------------------------------------------------------------
def check_template_owner(ctx: Ctx, owner: str) -> None:
    """A template is created or replaced only with the caller as its owner (an admin may name anyone)."""
    if not is_admin(ctx) and owner != me(ctx):
        raise ApiError(403, f"owner must be you ({me(ctx)!r}); only an admin sets another owner", "owner")


async def own_template(ctx: Ctx, c: Conn, tid: str, field: str = "id") -> Row:
    """A template its owner (or an admin) may read, replace and activate; 404 for anyone else."""
    rec = await ctx.deps.store.template(c, tid)
    if rec is None or not (is_admin(ctx) or rec["owner"] == me(ctx)):
        raise ApiError(404, f"no template {tid!r}", field)
    return rec


def template_filter(ctx: Ctx) -> str | None:
    """Whose templates the caller lists: everyone's (None) for an admin, else their own."""
    return None if is_admin(ctx) else me(ctx)


# ---- rollups and contacts ------------------------------------------------------------------------
async def own_rollup(ctx: Ctx, c: Conn, rid: str, field: str = "id") -> Row:
    """A rollup its owner (the user who created it) or an admin may read and change; 404 otherwise."""
    rec = await ctx.deps.store.rollup(c, rid)
    if rec is None or not (is_admin(ctx) or rec["owner"] == me(ctx)):
        raise ApiError(404, f"no rollup {rid!r}", field)
    return rec


async def visible_contacts(ctx: Ctx, c: Conn, ids: Iterable[str]) -> set[str]:
    """Of `ids`, those the caller may see and edit: all for an admin; else contacts on a rollup they own
    or enrolled in a sequence they are the primary user or a team member of."""
    wanted = list(dict.fromkeys(ids))
    if is_admin(ctx):
        return set(wanted)
    return await ctx.deps.store.visible_contacts(c, me(ctx), wanted)


async def can_see_contact(ctx: Ctx, contact_id: str) -> bool:
    async with ctx.deps.pool.acquire() as c:
        return contact_id in await visible_contacts(ctx, c, [contact_id])


async def require_contact(ctx: Ctx, c: Conn, contact_id: str, field: str = "id") -> None:
    if contact_id not in await visible_contacts(ctx, c, [contact_id]):
        raise ApiError(404, f"no contact {contact_id!r}", field)


# ---- sequences and tasks -------------------------------------------------------------------------
def on_sequence(ctx: Ctx, seq: Row) -> bool:
    """The primary user and the team members work a sequence (and its tasks); an admin sees every one."""
    return is_admin(ctx) or me(ctx) in (seq["primary_user"], *(seq.get("team") or ()))


def manages_sequence(ctx: Ctx, seq: Row) -> bool:
    """Only the primary user (with sequences:activate, the route's rule) or an admin manages a sequence."""
    return is_admin(ctx) or me(ctx) == seq["primary_user"]


def require_manager(ctx: Ctx, seq: Row) -> None:
    if not manages_sequence(ctx, seq):
        raise ApiError(403, "only the sequence's primary user or an admin may change it", "id")


def check_primary_user(ctx: Ctx, primary_user: str) -> None:
    """A non-admin activates sequences for themself only; an admin may make anyone the primary user."""
    if not is_admin(ctx) and primary_user != me(ctx):
        raise ApiError(403, "primary_user must be you; only an admin activates for another user", "primary_user")


MEMBER_SQL = "(s.primary_user = ? OR ? = ANY(s.team))"
"""The list filters' form of `on_sequence` (`?` is the user id), for the task list and the queue."""
