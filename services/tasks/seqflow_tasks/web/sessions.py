"""Server-side sign-in sessions: a random id in an HttpOnly, SameSite=Strict cookie, only its hash stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from seqflow_tasks.api.registry import Deps
from seqflow_tasks.db import Conn, Row

COOKIE = "seqflow_session"
SIGNIN_COOKIE = "seqflow_signin"  # guards the sign-in form itself (no session exists yet)
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    user: Row
    csrf: str
    id_hash: str


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def user_for_token(deps: Deps, c: Conn, token: str) -> Row | None:
    """The API's own token → user lookup: when tokens move to stored hashes, only this line changes."""
    return await deps.store.user_by_token(c, token)


async def open_session(deps: Deps, token: str) -> tuple[str, Session] | None:
    """Sign in with an API token: the new session's cookie value and the session, or None."""
    now = deps.clock.now()
    async with deps.pool.acquire() as c:
        user = await user_for_token(deps, c, token.strip())
        if user is None:
            return None
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        sql = "INSERT INTO {schema}.sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES ($1,$2,$3,$4,$5)"
        await c.execute(deps.store.q(sql), digest(sid), user["id"], csrf, now, now + LIFETIME)
    return sid, Session(user, csrf, digest(sid))


async def find_session(deps: Deps, request: web.Request) -> Session | None:
    sid = request.cookies.get(COOKIE)
    if not sid:
        return None
    sql = (
        "SELECT s.csrf, s.id_hash, u.* FROM {schema}.sessions s JOIN {schema}.users u ON u.id = s.user_id"
        " WHERE s.id_hash = $1 AND s.expires_at > $2"
    )
    async with deps.pool.acquire() as c:
        rec = await c.fetchrow(deps.store.q(sql), digest(sid), deps.clock.now())
    if rec is None:
        return None
    user = {k: v for k, v in dict(rec).items() if k not in ("csrf", "id_hash")}
    return Session(user, rec["csrf"], rec["id_hash"])


async def close_session(deps: Deps, session: Session, now: datetime) -> None:
    """Sign-out deletes the row (and, while at it, every expired one)."""
    sql = "DELETE FROM {schema}.sessions WHERE id_hash = $1 OR expires_at <= $2"
    async with deps.pool.acquire() as c:
        await c.execute(deps.store.q(sql), session.id_hash, now)


def set_cookie(response: web.StreamResponse, name: str, value: str, request: web.Request) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", path="/", secure=request.secure,
                        max_age=int(LIFETIME.total_seconds()))  # fmt: skip
