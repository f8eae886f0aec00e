"""Inbound webhooks are signed (SPEC §6): unsigned, badly signed or stale requests get 401 and change nothing."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from support.tasks_service import NOW, SMS_TOKEN, Api, public_api, wait_for
from support.webhooks import signed_email, signed_sms

from seqflow.channels.sms_stub import start_sms_stub
from seqflow.messaging.dispatch import SendResult

PHONE = "+15550000002"
__all__ = ["public_api"]


@pytest.fixture
def api(public_api: Api) -> Api:
    return public_api


async def a_send(api: Api, channel: str, message_id: str, to: str) -> None:
    await api.produce("dispatch.results", "send_result", "s1:c1", SendResult(
        sequence_id="s1", contact_id="c1", step="intro", attempt=1, channel=channel,  # type: ignore[arg-type]
        idempotency_key=f"s1:c1:intro:{channel}", status="sent", message_id=message_id, to=to, at=NOW))  # fmt: skip


async def first_engagement(api: Api) -> dict[str, object]:
    [env] = await api.published("engagement.events", "engagement")
    return env.payload


async def test_a_signed_email_reply_is_accepted_and_forged_stale_or_unsigned_ones_are_refused(api: Api) -> None:
    await a_send(api, "email", "<m1@seqflow.local>", "c1@x.example")
    bounce = {"type": "bounced", "message_id": "<m1@seqflow.local>"}
    forged = signed_email(bounce, NOW, secret="guessed-secret")  # noqa: S106
    stale = signed_email(bounce, NOW - timedelta(minutes=5, seconds=1))
    future = signed_email(bounce, NOW + timedelta(minutes=6))
    tampered = signed_email(bounce, NOW)
    tampered["data"] = tampered["data"].replace(b"bounced", b"replied")
    for attempt in (forged, stale, future, tampered, {"json": bounce}):
        status, err = await api.call("POST", "/webhooks/email", "", **attempt)
        assert (status, err["field"]) == (401, "X-Seqflow-Signature"), err
    reply = {"type": "replied", "message_id": "<m1@seqflow.local>"}

    async def accepted() -> bool:
        return (await api.call("POST", "/webhooks/email", "", **signed_email(reply, NOW)))[0] == 202

    await wait_for(accepted)
    engagement = await first_engagement(api)
    assert (engagement["kind"], engagement["message_id"]) == ("replied", "<m1@seqflow.local>")


async def test_an_sms_reply_relayed_by_the_stub_is_signed_and_accepted_and_a_forged_stop_is_refused(
    api: Api,
) -> None:
    url = f"http://127.0.0.1:{api.app.settings.web_port}/webhooks/sms"
    victim = {"From": "+15550000666", "Body": "STOP"}
    for attempt in (signed_sms(url, victim, "not-the-token"), {"data": victim}):
        status, err = await api.call("POST", "/webhooks/sms", "", **attempt)
        assert (status, err["field"]) == (401, "X-Twilio-Signature"), err
    runner, stub = await start_sms_stub(auth_token=SMS_TOKEN, webhook_url=url)
    try:
        async with aiohttp.ClientSession() as http, http.post(f"{stub}/_stub/inbound",
                                                             data={"From": PHONE, "Body": "stop"}) as r:  # fmt: skip
            relayed = await r.json()
    finally:
        await runner.cleanup()
    assert relayed["status"] == 202, relayed
    [env] = await api.published("engagement.events", "unsubscribed")
    assert env.payload["address"] == PHONE  # the first unsubscribe published: the refused ones left no trace


async def test_the_sms_signature_covers_the_query_string(api: Api) -> None:
    base = f"http://127.0.0.1:{api.app.settings.web_port}/webhooks/sms"
    signed_without_query = signed_sms(base, {"From": PHONE, "Body": "STOP"}, SMS_TOKEN)
    status, _ = await api.call("POST", "/webhooks/sms?campaign=1", "", **signed_without_query)
    assert status == 401
    signed = signed_sms(base + "?campaign=1", {"From": PHONE, "Body": "STOP"}, SMS_TOKEN)
    assert (await api.call("POST", "/webhooks/sms?campaign=1", "", **signed))[0] == 202
