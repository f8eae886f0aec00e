"""Build tracked outreach emails and hand them to an SMTP server (SPEC §6)."""

from __future__ import annotations

import asyncio
import html as htmllib
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import partial

import aiosmtplib

from seqflow.channels.errors import BouncedError, PermanentSendError, SendError, TransientSendError
from seqflow.channels.message_id import message_id_for
from seqflow.channels.tracking import (
    URL_PATTERN,
    click_url,
    open_pixel_url,
    rewrite_links,
    strip_trailing_punctuation,
    unsubscribe_url,
)

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)

# RFC 5322 allows 998-character lines. The default 78 makes a long unbroken header value (the one-click
# List-Unsubscribe URL) fold as RFC 2047 encoded-words, which mail clients do not read as a URL.
HEADER_POLICY = policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class Tracking:
    """Where tracking links point (the public base URL of the tracking endpoint) and the signing key."""

    base_url: str
    secret: bytes


def build_email(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    idempotency_key: str,
    tracking: Tracking,
    now: datetime,
    html: str | None = None,
    message_id_domain: str = "seqflow.local",
) -> EmailMessage:
    """A multipart/alternative message: plain text, and HTML with tracked links, pixel and unsubscribe.

    `sender` is the step's alias (e.g. `Alice <alice@example.com>`); `text`/`html` are already rendered.
    Links are tracked in the HTML part only: the plain part keeps readable URLs.
    """
    message_id = message_id_for(idempotency_key, message_id_domain, key=tracking.secret)
    unsubscribe = unsubscribe_url(tracking.base_url, tracking.secret, message_id, to)
    msg = EmailMessage(policy=HEADER_POLICY)
    _set_headers(msg, sender=sender, to=to, subject=subject, message_id=message_id, now=now)
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(_text_part(text, unsubscribe))
    html_part = _html_part(html or text_to_html(text), tracking, message_id, unsubscribe)
    msg.add_alternative(html_part, subtype="html")
    return msg


def _set_headers(msg: EmailMessage, *, sender: str, to: str, subject: str, message_id: str, now: datetime) -> None:
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(now)


def _text_part(text: str, unsubscribe: str) -> str:
    return f"{text.rstrip()}\n\n--\nUnsubscribe: {unsubscribe}\n"


def _html_part(body: str, tracking: Tracking, message_id: str, unsubscribe: str) -> str:
    make_click = partial(click_url, tracking.base_url, tracking.secret, message_id)
    tracked = rewrite_links(body, make_click, html=True)
    pixel = open_pixel_url(tracking.base_url, tracking.secret, message_id)
    footer = (
        f'<p style="font-size:small"><a href="{htmllib.escape(unsubscribe)}">Unsubscribe</a></p>'
        f'<img src="{htmllib.escape(pixel)}" width="1" height="1" alt="" style="display:none">'
    )
    if _BODY_END.search(tracked):
        return _BODY_END.sub(lambda m: footer + m.group(0), tracked, count=1)
    return f"<html><body>{tracked}{footer}</body></html>"


def text_to_html(text: str) -> str:
    """Escape plain text, turn its URLs into links and its line breaks into `<br>`."""
    return "<br>\n".join(_linkify(line) for line in text.splitlines())


def _linkify(line: str) -> str:
    parts: list[str] = []
    last = 0
    for match in URL_PATTERN.finditer(line):
        url = strip_trailing_punctuation(match.group(0))
        parts.append(htmllib.escape(line[last : match.start()]))
        parts.append(f'<a href="{htmllib.escape(url)}">{htmllib.escape(url)}</a>')
        last = match.start() + len(url)
    parts.append(htmllib.escape(line[last:]))
    return "".join(parts)


async def send_email(
    msg: EmailMessage,
    host: str,
    port: int,
    timeout: float = 10,  # noqa: ASYNC109 - aiosmtplib applies it to each SMTP command, not the whole send
    *,
    username: str | None = None,
    password: str | None = None,
    start_tls: bool | None = None,
) -> None:
    """Deliver `msg`; PermanentSendError on a 5xx reply, TransientSendError on 4xx or connection trouble."""
    try:
        await aiosmtplib.send(
            msg,
            hostname=host,
            port=port,
            timeout=timeout,
            username=username,
            password=password,
            start_tls=start_tls,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise classify_smtp_error(exc) from exc


def classify_smtp_error(exc: BaseException) -> SendError:
    """Map an aiosmtplib/socket error to a permanent or transient send error."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        return _by_code(min(codes, default=550), f"recipients refused: {exc.recipients}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentSendError(str(exc))
    return TransientSendError(f"{type(exc).__name__}: {exc}")


def _by_code(code: int, message: str) -> SendError:
    kind = BouncedError if code >= 500 else TransientSendError
    return kind(f"SMTP {code}: {message}", code=code)


class SmtpPool:
    """Up to `size` persistent SMTP sessions, each carrying many messages; a broken one is dropped and the
    next send opens a fresh one (a connection per message costs ~3.2 ms here, a reused one ~0.9 ms)."""

    def __init__(self, host: str, port: int, size: int = 4, timeout: float = 10) -> None:  # noqa: ASYNC109
        self.host, self.port, self.timeout = host, port, timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, msg: EmailMessage) -> None:
        """Deliver `msg` like `send_email`, on a pooled session."""
        async with self._slots:
            client = await self._session()
            try:
                await client.send_message(msg)
            except (aiosmtplib.SMTPException, OSError) as exc:
                client.close()  # its state after an error is unknown: never reuse it
                raise classify_smtp_error(exc) from exc
            self._idle.append(client)

    async def _session(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        client = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout, start_tls=False)
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise classify_smtp_error(exc) from exc
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            client.close()
