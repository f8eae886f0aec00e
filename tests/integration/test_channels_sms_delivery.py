"""send_sms against the real local Twilio-style stub."""

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from seqflow.channels.errors import PermanentSendError, TransientSendError
from seqflow.channels.sms import send_sms
from seqflow.channels.sms_stub import start_sms_stub
from seqflow.channels.smtp_stub import free_port

SID = "AC" + "1" * 32
TOKEN = "integration-token"  # noqa: S105 - the local stub's credential


@pytest.fixture
async def stub_url() -> AsyncIterator[str]:
    runner, url = await start_sms_stub("127.0.0.1", 0, SID, TOKEN)
    try:
        yield url
    finally:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


async def _send(session: aiohttp.ClientSession, url: str, **overrides: str) -> str:
    args = {"account_sid": SID, "auth_token": TOKEN, "to": "+15551230001", "from_": "+15559870000"}
    args |= {"body": "Hi Ada", "idempotency_key": "seq1:c1:sms:0"} | overrides
    return await send_sms(session, url, **args)


async def _stored(session: aiohttp.ClientSession, url: str) -> list[dict[str, str]]:
    async with session.get(f"{url}/_stub/messages") as resp:
        return list(await resp.json())


async def test_send_returns_the_provider_sid_and_the_stub_stores_the_message(
    session: aiohttp.ClientSession, stub_url: str
) -> None:
    sid = await _send(session, stub_url)
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    [stored] = await _stored(session, stub_url)
    assert (stored["sid"], stored["to"], stored["body"], stored["status"]) == (
        sid,
        "+15551230001",
        "Hi Ada",
        "queued",
    )


async def test_the_same_idempotency_key_sent_twice_is_stored_once(
    session: aiohttp.ClientSession, stub_url: str
) -> None:
    first = await _send(session, stub_url)
    second = await _send(session, stub_url)
    assert first == second and len(await _stored(session, stub_url)) == 1


async def test_different_idempotency_keys_are_stored_separately(session: aiohttp.ClientSession, stub_url: str) -> None:
    await _send(session, stub_url, idempotency_key="seq1:c1:sms:0")
    await _send(session, stub_url, idempotency_key="seq1:c1:sms:1")
    assert len(await _stored(session, stub_url)) == 2


async def test_wrong_auth_is_a_permanent_send_error(session: aiohttp.ClientSession, stub_url: str) -> None:
    with pytest.raises(PermanentSendError) as err:
        await _send(session, stub_url, auth_token="wrong")  # noqa: S106 - deliberately wrong
    assert err.value.status == 401 and await _stored(session, stub_url) == []


async def test_a_missing_to_is_a_permanent_send_error_naming_the_field(
    session: aiohttp.ClientSession, stub_url: str
) -> None:
    with pytest.raises(PermanentSendError) as err:
        await _send(session, stub_url, to="")
    assert err.value.code == 21604 and "'To'" in str(err.value)


async def test_an_invalid_number_is_a_permanent_send_error(session: aiohttp.ClientSession, stub_url: str) -> None:
    with pytest.raises(PermanentSendError) as err:
        await _send(session, stub_url, to="not-a-number")
    assert err.value.code == 21211


async def test_an_unreachable_provider_is_a_transient_send_error(session: aiohttp.ClientSession) -> None:
    with pytest.raises(TransientSendError):
        await _send(session, f"http://127.0.0.1:{free_port()}")
