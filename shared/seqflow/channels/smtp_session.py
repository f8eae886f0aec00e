"""One mail transaction (MAIL, RCPT, DATA) on an open aiosmtplib session, without `SMTP.sendmail`'s per-call work.

`sendmail` parses every address three times (`email.utils.parseaddr`), normalises the line endings of the
message twice (for SIZE and for DATA) and takes two locks; at a thousand messages a second that was a fifth
of the dispatcher's CPU. This sends exactly what `sendmail` sends for one recipient — the same commands,
options (SIZE first, then SMTPUTF8) and DATA bytes — with each address checked once per process and a
message already in CRLF lines sent as it is. Callers must not share a session between concurrent sends.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache

import aiosmtplib
from aiosmtplib.email import parse_address
from aiosmtplib.protocol import normalize_message_line_endings
from aiosmtplib.typing import SMTPStatus

# An address of only these characters is what aiosmtplib's `parse_address` returns for it (a test checks):
# no parser call for the usual recipient, who is new on every message.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def quoted(address: str) -> str:
    """`<address>` as `sendmail` puts it on MAIL/RCPT; ValueError, as from `sendmail`, for an address that
    could smuggle SMTP parameters."""
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else _parsed(address)


@lru_cache(maxsize=4096)
def _parsed(address: str) -> str:
    return f"<{parse_address(address)}>"


def wire_data(data: bytes) -> tuple[int, bytes]:
    """(the SIZE `sendmail` declares, the DATA payload it writes): CRLF lines, dot-stuffed, ended by `.`."""
    if not (data.endswith(b"\r\n") and data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")):
        data = normalize_message_line_endings(data)  # (a built message is CRLF already: three counts, no copy)
    stuffed = data.replace(b"\n.", b"\n..")  # a line starting with `.`, as aiosmtplib's `(?m)^\.` → `..`
    return len(data), (b"." + stuffed if stuffed.startswith(b".") else stuffed) + b".\r\n"


async def ensure_greeted(client: aiosmtplib.SMTP) -> None:
    """EHLO once per session, HELO if the server refuses it (as `sendmail` does on first use)."""
    if not client.is_ehlo_or_helo_needed:
        return
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()


async def transact(client: aiosmtplib.SMTP, sender: str, recipient: str, data: bytes, utf8: bool) -> None:
    """Send one message to one recipient; raises what `sendmail` raises (a refused recipient as
    SMTPRecipientsRefused) after resetting the envelope on a refusal, as `sendmail` does."""
    mail_from, rcpt_to = quoted(sender), quoted(recipient)
    await ensure_greeted(client)
    if utf8 and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    size, wire = wire_data(data)
    options = [f"size={size}".encode("ascii")] if client.supports_extension("size") else []
    if utf8:
        options.append(b"SMTPUTF8")
    encoding = "utf-8" if utf8 else "ascii"
    try:
        mail = await client.execute_command(b"MAIL", b"FROM:" + mail_from.encode(encoding), *options)
        if mail.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, sender)
        rcpt = await client.execute_command(b"RCPT", b"TO:" + rcpt_to.encode(encoding))
        if rcpt.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
            refused = aiosmtplib.SMTPRecipientRefused(rcpt.code, rcpt.message, recipient)
            raise aiosmtplib.SMTPRecipientsRefused([refused])
        await _data(client, wire)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        await _reset(client)
        raise


async def _data(client: aiosmtplib.SMTP, wire: bytes) -> None:
    start = await client.execute_command(b"DATA")
    if start.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    protocol.write(wire)  # then read its reply before anything else runs on this session
    response = await protocol.read_response(timeout=client.timeout)
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(response.code, response.message)


async def _reset(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):  # it is dropped after an error
        await client.rset()
