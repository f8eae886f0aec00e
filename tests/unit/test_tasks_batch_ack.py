"""The tasks consumers leave a batch only once it is recorded, so faust's ack never runs ahead of it."""

from __future__ import annotations

import asyncio

import pytest

from seqflow_tasks.agents import finished


async def test_a_stop_during_a_batch_waits_for_the_batch_before_the_agent_leaves_it() -> None:
    started, release, recorded = asyncio.Event(), asyncio.Event(), []

    async def batch() -> None:
        started.set()
        await release.wait()
        recorded.append(True)

    agent = asyncio.create_task(finished(batch()))
    await started.wait()
    agent.cancel()  # a graceful stop while the batch's transaction is open
    await asyncio.sleep(0.01)
    assert not agent.done()  # faust would ack the batch as soon as the agent left it
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await agent
    assert recorded == [True]  # the stop still happens, after the batch is recorded
