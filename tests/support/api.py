"""A small client for the public HTTP API, used by the end-to-end tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp

from support.webhooks import signed_email

ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 - the dev default the services start with in tests


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str = ADMIN_TOKEN) -> None:
        self.http, self.base, self.token = http, base, token

    def as_user(self, token: str) -> Api:
        return Api(self.http, self.base, token)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def email_webhook(self, event: dict[str, Any], at: datetime) -> tuple[int, Any]:
        """POST /webhooks/email signed as the provider would at instant `at` (the services' clock)."""
        async with self.http.post(self.base + "/webhooks/email", **signed_email(event, at)) as r:
            return r.status, await r.json(content_type=None)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = await self.request(method, path, body)
        assert status in (200, 201, 202), f"{method} {path} → {status}: {data}"
        return data


async def eventually(fetch: Callable[[], Awaitable[Any]], check: Callable[[Any], Any], what: str,
                     limit: float = 60.0) -> Any:  # fmt: skip
    """Fetch until `check(result)` holds; fail with the last result after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        result = await fetch()
        if check(result):
            return result
        assert time.monotonic() < deadline, f"{what} not reached within {limit}s; last: {result}"
        await asyncio.sleep(0.2)


async def make_user(admin: Api, uid: str, permissions: tuple[str, ...] = ("sequences:activate", "tasks:mine")) -> Api:
    """Create a user through the admin API; returns a client acting as that user with the token the server
    generated for them (shown once, in the answer)."""
    created = await admin.ok("POST", "/users", {"id": uid, "name": uid.title(), "email": f"{uid}@agency.example",
                                                "permissions": list(permissions)})  # fmt: skip
    return admin.as_user(created["token"])
