"""The dispatcher's part of an erasure on a real broker and PostgreSQL: the ledger forgets the address, and
the address, now kept only as a hash, is never mailed again — even for a send that names it afresh."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from support.api import eventually
from support.dispatcher import dispatcher_fixture, ledger
from support.kafka import Collector, produce_raw, wait_for

from seqflow.messaging.codec import encode
from seqflow.messaging.envelope import Envelope
from seqflow.messaging.erasure import ContactErased, address_hash
from seqflow.messaging.work import SendRequested
from seqflow.service import SeqflowApp
from seqflow_tasks.api.erasure import owns_every

AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
ADDRESS = "Ada.Erased@Example.org "  # erasure hashes the normalised form: trimmed, lower case


dispatcher = dispatcher_fixture()


def send(step: str, contact: str = "c1") -> tuple[bytes, bytes]:
    req = SendRequested(
        sequence_id="seq1", contact_id=contact, step=step, attempt=0, channel="email",
        idempotency_key=f"seq1:{contact}:{step}:0", to=ADDRESS.strip().lower(), from_="Alice <alice@example.com>",
        subject=f"About {step}", body="Hi", at=AT,
    )  # fmt: skip
    return f"seq1:{contact}".encode(), encode(Envelope.wrap("send_requested", f"seq1:{contact}", req, AT))


async def test_an_erased_address_is_blanked_in_the_ledger_and_never_mailed_again(
    broker: str, pg_dsn: str, schema_prefix: str, dispatcher: SeqflowApp,
    smtp: tuple[Controller, list[EmailMessage]],
) -> None:  # fmt: skip
    names = dispatcher.topic_names
    async with Collector(broker, names.dispatch_results) as results:
        await produce_raw(broker, names.due_sends, [send("intro")])
        await wait_for(lambda: len(results.items) == 1, what="the first send")
        erased = ContactErased(contact_id="c1", address_hashes=[address_hash(ADDRESS)], at=AT)
        await produce_raw(broker, names.contact_erasure, [(b"c1", encode(Envelope.wrap("contact_erased", "c1",
                                                                                       erased, AT)))])  # fmt: skip

        await eventually(lambda: ledger(pg_dsn, schema_prefix), lambda rows: [r["address"] for r in rows] == [""],
                         "the ledger's address blanked")  # fmt: skip
        await produce_raw(broker, names.due_sends, [send("later", contact="c2")])  # same address, new contact
        await wait_for(lambda: len(results.items) == 2, what="the second result")
    assert [r.payload["status"] for r in results.items] == ["sent", "suppressed"]
    assert [m["Subject"] for m in smtp[1]] == ["About intro"]


def test_only_the_owner_of_every_rollup_the_contact_is_on_may_erase_it() -> None:
    assert owns_every("alice", {"r1": "alice", "r2": "alice"})
    assert not owns_every("alice", {"r1": "alice", "r2": "bob"})
    assert not owns_every("alice", {"r1": None})  # a rollup without a known owner
    assert not owns_every("alice", {})  # on no rollup: nobody's (an admin may still erase it)
