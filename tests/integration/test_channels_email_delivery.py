"""send_email against the real aiosmtpd stub on a free port."""

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from support.services import REJECTED

from seqflow.channels.email import SmtpPool, Tracking, build_email, send_email
from seqflow.channels.errors import BouncedError, PermanentSendError, TransientSendError
from seqflow.channels.message_id import message_id_for
from seqflow.channels.smtp_stub import free_port

TRACKING = Tracking(base_url="http://127.0.0.1:9/", secret=b"integration-secret")


def _message(to: str = "ada@example.org", key: str = "seq1:c1:intro:0") -> EmailMessage:
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
        assert got[header] == sent[header]
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
