"""The README's webhook signing example (curl + openssl) runs as written against the tasks service."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

from support.tasks_service import SMS_TOKEN, Api, public_api, wait_for

from seqflow.clock import FileClock, set_file_clock
from seqflow.messaging.dispatch import SendResult

__all__ = ["public_api"]
README = Path(__file__).parents[2] / "README.md"
MESSAGE_ID = "<0f9530be15ff12cd47017d50bcb55e8e@seqflow.local>"


def example() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- webhook-example -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert found, "README has no webhook example block"
    return found.group(1)


async def test_the_readme_webhook_example_signs_requests_the_service_accepts(
    public_api: Api, file_clock: FileClock
) -> None:
    now = datetime.now(UTC)  # the example signs with `date +%s`
    set_file_clock(file_clock.path, now)
    await public_api.produce("dispatch.results", "send_result", "s1:c1", SendResult(
        sequence_id="s1", contact_id="c1", step="intro", attempt=1, channel="email", idempotency_key="s1:c1:intro:1",
        status="sent", message_id=MESSAGE_ID, to="c1@x.example", at=now))  # fmt: skip

    sql = f'SELECT 1 FROM "{public_api.app.settings.schema_name("tasks")}".sends WHERE message_id = $1'

    async def known() -> bool:
        async with public_api.app.pool.acquire() as c:  # type: ignore[union-attr]
            return bool(await c.fetchval(sql, MESSAGE_ID))

    await wait_for(known)
    env = {"API": public_api.base, "SMS_TOKEN": SMS_TOKEN, "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec("bash", "-euc", example(), env=env, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert out.decode() == '{"accepted": true}{"accepted": true, "unsubscribed": true}'
