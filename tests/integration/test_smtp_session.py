"""The pooled send puts on the wire exactly what aiosmtplib's `sendmail` puts there (recorded by a TCP relay
in front of the real aiosmtpd stub): same commands, options, DATA bytes, and the same reset on a refusal."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from support.services import REJECTED

from seqflow.channels.email import OutgoingEmail, SmtpPool, Tracking, build_email, mail_options
from seqflow.channels.errors import BouncedError, SendError
from seqflow.channels.smtp_session import wire_data

TRACKING = Tracking(base_url="http://127.0.0.1:9/", secret=b"integration-secret")
NOW = datetime(2025, 3, 4, 9, 30, 12, 345678, tzinfo=UTC)


class Relay:
    """A TCP relay to the SMTP server that records what each client session sent (one bytearray a session)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.host, self.port = "127.0.0.1", 0
        self.sessions: list[bytearray] = []
        self._closed = 0
        self._changed = asyncio.Condition()

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, host: str, port: int) -> AsyncIterator["Relay"]:
        relay = cls((host, port))
        server = await asyncio.start_server(relay._serve, relay.host, 0)
        relay.port = server.sockets[0].getsockname()[1]
        async with server:
            yield relay

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        record = bytearray()
        self.sessions.append(record)
        await asyncio.gather(self._pipe(reader, up_writer, record), self._pipe(up_reader, writer, None))
        async with self._changed:
            self._closed += 1
            self._changed.notify_all()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray | None) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                if record is not None:
                    record += chunk
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def wait_closed(self, sessions: int) -> None:
        """Wait (up to 5 s) until `sessions` client sessions have ended on both sides."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self._closed >= sessions), 5)

    def reset(self) -> None:
        self.sessions.clear()
        self._closed = 0


def _ascii() -> OutgoingEmail:
    return build_email(sender="Alice Recruiter <alice@example.com>", to="ada@example.org", subject="Role",
                       text="Hi Ada,\nsee https://jobs.io/42\n", idempotency_key="s:c1:intro:0",
                       tracking=TRACKING, now=NOW)  # fmt: skip


def _utf8_dots() -> OutgoingEmail:
    return build_email(sender="Zoë <zoë@example.com>", to="Ådå <ådå@example.org>", subject="Grüße — 日本語",
                       text=".\n.hidden line\n..two\nFrom here ✓\n" + "long " * 300, idempotency_key="s:c2:intro:0",
                       tracking=TRACKING, now=NOW)  # fmt: skip


def _dots() -> OutgoingEmail:
    return build_email(sender="alice@example.com", to="ada@example.org", subject="Dots", text=".\n.hidden\n..two\n.",
                       idempotency_key="s:c4:intro:0", tracking=TRACKING, now=NOW)  # fmt: skip


def _rejected() -> OutgoingEmail:
    return build_email(sender="alice@example.com", to=REJECTED, subject="x", text="y", idempotency_key="s:c3:intro:0",
                       tracking=TRACKING, now=NOW)  # fmt: skip


@pytest.fixture
async def relay(smtp: tuple[Controller, list[EmailMessage]]) -> AsyncIterator[Relay]:
    controller, _ = smtp
    async with Relay.start(controller.hostname, controller.port) as r:
        yield r


async def _by_sendmail(relay: Relay, msg: OutgoingEmail) -> None:
    client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, start_tls=False)
    await client.connect()
    try:
        await client.sendmail(msg.sender, [msg.recipient], msg.data, mail_options=mail_options(msg))
    finally:
        client.close()


async def _by_pool(relay: Relay, msg: OutgoingEmail) -> None:
    pool = SmtpPool(relay.host, relay.port, size=1)
    try:
        await pool.send(msg)
    finally:
        await pool.close()


async def _wire(relay: Relay, send: Callable[[Relay, OutgoingEmail], Awaitable[None]], msg: OutgoingEmail) -> bytes:
    relay.reset()
    with contextlib.suppress(aiosmtplib.SMTPException, SendError):
        await send(relay, msg)
    await relay.wait_closed(1)
    [session] = relay.sessions
    return bytes(session)


@pytest.mark.parametrize("make", [_ascii, _utf8_dots, _dots, _rejected])
async def test_the_pool_sends_the_bytes_sendmail_sends(relay: Relay, make: Callable[[], OutgoingEmail]) -> None:
    msg = make()
    want = await _wire(relay, _by_sendmail, msg)
    got = await _wire(relay, _by_pool, msg)
    assert got == want
    assert b"MAIL FROM:" in got and (b"RSET" in got) == (msg.recipient == REJECTED)


async def test_a_utf8_address_goes_with_smtputf8_and_dot_lines_are_stuffed(
    relay: Relay, smtp: tuple[Controller, list[EmailMessage]]
) -> None:
    got = await _wire(relay, _by_pool, _utf8_dots())
    assert "MAIL FROM:<zoë@example.com> size=".encode() in got and b" SMTPUTF8\r\nRCPT TO:" in got
    got = await _wire(relay, _by_pool, _dots())
    assert b"\r\n\r\n..\r\n..hidden\r\n...two\r\n..\r\n" in got
    _, received = smtp
    assert [m["To"] for m in received] == ["Ådå <ådå@example.org>", "ada@example.org"]


async def test_a_refused_recipient_is_a_bounce_and_the_session_is_not_reused(relay: Relay) -> None:
    pool = SmtpPool(relay.host, relay.port, size=1)
    try:
        with pytest.raises(BouncedError) as err:
            await pool.send(_rejected())
        assert err.value.code == 550
        await pool.send(_ascii())
    finally:
        await pool.close()
    await relay.wait_closed(2)
    assert len(relay.sessions) == 2


def test_the_size_and_data_are_those_of_aiosmtplib_for_any_line_endings() -> None:
    from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

    for data in [_ascii().data, _utf8_dots().data, b".a\nb\r.c\r\n.d", b"x\r\r\n.\n", b"", b"."]:
        norm = normalize_message_line_endings(data)
        assert wire_data(data) == (len(norm), PERIOD_REGEX.sub(b"..", norm) + b".\r\n")


async def test_an_address_that_could_smuggle_parameters_is_refused_before_any_command(relay: Relay) -> None:
    bad = OutgoingEmail("<x@y>", "alice@example.com", "a b@example.org", b"x\r\n")
    with pytest.raises(ValueError, match="not permitted"):
        await _by_pool(relay, bad)
    await relay.wait_closed(1)
    assert all(b"RCPT" not in s and b"MAIL" not in s for s in relay.sessions)
