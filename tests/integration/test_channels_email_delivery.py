"""send_email against the real aiosmtpd stub on a free port."""

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from support.services import REJECTED

from seqflow.channels.email import OutgoingEmail, SmtpPool, Tracking, build_email, send_email
from seqflow.channels.errors import BouncedError, PermanentSendError, TransientSendError
from seqflow.channels.message_id import message_id_for
from seqflow.channels.smtp_stub import free_port, start_smtp_stub, summary_headers

TRACKING = Tracking(base_url="http://127.0.0.1:9/", secret=b"integration-secret")


def _message(to: str = "ada@example.org", key: str = "seq1:c1:intro:0") -> OutgoingEmail:
    return build_email(
        sender="Alice Recruiter <alice@example.com>",
        to=to,
        subject="Senior Python role",
        text="Hi Ada,\nhave a look: https://jobs.io/42\n",
        idempotency_key=key,
        tracking=TRACKING,
        now=datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
    )


async def test_delivers_a_message_with_the_built_headers_pixel_and_unsubscribe_link(
    smtp: tuple[Controller, list[EmailMessage]],
) -> None:
    controller, received = smtp
    sent = _message()
    await send_email(sent, controller.hostname, controller.port)
    [got] = received
    for header in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe"):
        assert got[header] == sent.parsed()[header]
    assert got["Message-ID"] == message_id_for("seq1:c1:intro:0", key=TRACKING.secret)
    html = got.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()
    assert "http://127.0.0.1:9/t/o/" in content and "http://127.0.0.1:9/t/u/" in content


async def test_a_refused_connection_is_a_transient_send_error() -> None:
    with pytest.raises(TransientSendError):
        await send_email(_message(), "127.0.0.1", free_port(), timeout=2)


async def test_a_5xx_recipient_rejection_is_a_permanent_send_error(
    smtp: tuple[Controller, list[EmailMessage]],
) -> None:
    controller, received = smtp
    with pytest.raises(PermanentSendError) as err:
        await send_email(_message(to=REJECTED), controller.hostname, controller.port)
    assert err.value.code == 550 and received == []


async def test_a_pooled_session_carries_many_messages_and_survives_a_bounce(
    smtp: tuple[Controller, list[EmailMessage]],
) -> None:
    controller, received = smtp
    pool = SmtpPool(controller.hostname, controller.port, size=2)
    try:
        for n in range(3):
            await pool.send(_message(to=f"n{n}@example.org", key=f"seq1:c{n}:intro:0"))
        with pytest.raises(BouncedError):
            await pool.send(_message(to=REJECTED, key="seq1:gone:intro:0"))
        await pool.send(_message(to="n3@example.org", key="seq1:c3:intro:0"))
    finally:
        await pool.close()
    assert [m["To"] for m in received] == ["n0@example.org", "n1@example.org", "n2@example.org", "n3@example.org"]


async def test_the_stub_keeps_one_copy_of_a_message_id_like_a_mailbox_provider(
    smtp: tuple[Controller, list[EmailMessage]],
) -> None:
    controller, received = smtp
    await send_email(_message(), controller.hostname, controller.port)
    await send_email(_message(), controller.hostname, controller.port)  # a send retried after a crash
    assert len(received) == 1 and controller.handler.duplicates == 1


async def test_a_pooled_send_delivers_the_built_bytes_unchanged_non_ascii_and_dot_lines_included(
    smtp: tuple[Controller, list[EmailMessage]],
) -> None:
    controller, received = smtp
    sent = build_email(
        sender="Zoë Æsir <zoe@example.com>",
        to="Ådå <ada@example.org>",
        subject="Grüße — 日本語",
        text=".\n.hidden line\nFrom here on ✓\n" + "long " * 300 + "\n",
        idempotency_key="seq1:c9:intro:0",
        tracking=TRACKING,
        now=datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
    )
    pool = SmtpPool(controller.hostname, controller.port, size=1)
    try:
        await pool.send(sent)
    finally:
        await pool.close()
    [got] = received
    want = sent.parsed()
    for header in ("From", "To", "Subject", "Message-ID", "Date", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert got[header] == want[header]
    assert got["Subject"] == "Grüße — 日本語" and got["From"].addresses[0].display_name == "Zoë Æsir"
    for subtype in ("plain", "html"):
        got_part, want_part = got.get_body(preferencelist=(subtype,)), want.get_body(preferencelist=(subtype,))
        assert got_part is not None and want_part is not None
        assert got_part.get_content() == want_part.get_content()
    plain = got.get_body(preferencelist=("plain",))
    assert plain is not None and plain.get_content().startswith(".\r\n.hidden line\r\nFrom here on ✓\r\n")


@pytest.mark.parametrize("keep", [True, False])
async def test_the_stub_records_the_decoded_headers_of_what_it_received(tmp_path: Path, keep: bool) -> None:
    sent = build_email(
        sender="Zoë Æsir <zoe@example.com>",
        to="Ådå <ada@example.org>",
        subject="Grüße — 日本語 " * 8,
        text="Hallo\n",
        idempotency_key="seq1:c7:intro:0",
        tracking=TRACKING,
        now=datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
    )
    out = tmp_path / "sent.jsonl"
    controller, _ = start_smtp_stub(out=out, keep=keep)
    try:
        await send_email(sent, controller.hostname, controller.port)
    finally:
        controller.stop()
    [record] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    want = sent.parsed()
    assert [record[k] for k in ("message_id", "from", "to", "subject")] == [
        str(want[h]) for h in ("Message-ID", "From", "To", "Subject")
    ]
    assert record["subject"] == "Grüße — 日本語 " * 8 and record["rcpt_tos"] == ["ada@example.org"]


def test_the_stub_reads_raw_utf8_headers_as_text() -> None:
    raw = "From: a@b.example\r\nTo: Ådå <ådå@example.org>\r\nSubject: =?utf-8?b?w4Q=?=\r\n\r\nbody\r\n".encode()
    assert summary_headers(raw) == {
        "Message-ID": None, "From": "a@b.example", "To": "Ådå <ådå@example.org>", "Subject": "Ä"
    }  # fmt: skip
