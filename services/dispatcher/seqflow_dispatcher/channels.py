"""Perform one send over the step's channel; returns the provider's id (Message-ID or SMS sid)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import aiohttp

from seqflow.channels.email import SmtpPool, Tracking, build_email
from seqflow.channels.errors import TransientSendError
from seqflow.channels.sms import send_sms
from seqflow.messaging.work import SendRequested
from seqflow.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """Transient errors are retried `attempts - 1` times, waiting `base_delay * 2**n` seconds between."""

    attempts: int = 3
    base_delay: float = 0.5


@dataclass(frozen=True)
class Channels:
    """The provider connections of one dispatcher process: an SMTP session pool and one keep-alive HTTP session."""

    settings: Settings
    session: aiohttp.ClientSession
    smtp: SmtpPool

    @cached_property
    def tracking(self) -> Tracking:
        return Tracking(self.settings.public_url, self.settings.tracking_secret.encode("utf-8"))

    async def send(self, req: SendRequested, now: datetime) -> str:
        if req.channel == "email":
            return await self.send_email(req, now)
        return await self.send_sms(req)

    async def send_email(self, req: SendRequested, now: datetime) -> str:
        msg = build_email(
            sender=req.from_,
            to=req.to,
            subject=req.subject or "",
            text=req.body,
            idempotency_key=req.idempotency_key,
            tracking=self.tracking,
            now=now,
        )
        await self.smtp.send(msg)
        return msg.message_id

    async def send_sms(self, req: SendRequested) -> str:
        s = self.settings
        return await send_sms(
            self.session, s.sms_url, s.sms_account_sid, s.sms_auth_token, req.to, req.from_, req.body,
            req.idempotency_key,
        )  # fmt: skip


async def with_retries(attempt: Callable[[], Awaitable[str]], policy: RetryPolicy) -> str:
    """Call `attempt` until it succeeds, raises a non-transient error, or the attempts run out."""
    for n in range(policy.attempts - 1):
        try:
            return await attempt()
        except TransientSendError:
            await asyncio.sleep(policy.base_delay * 2**n)
    return await attempt()
