"""Consume topics in batches with a plain aiokafka consumer: no task, queue or event object per message.

faust's agent streams cost more per message than our handlers do at thousands of messages a second (issue
7's profile: `Consumer._drain_messages`, `Conductor.on_message` and `Stream._c_aiter` were 15–30% of every
service's CPU). A `BatchAgent` hands its body what the fetcher holds — up to `size` records, waiting at
most `within` seconds for more once the first arrived, the shape of faust's `take_events` — and commits the
batch's offsets when the body asks for the next batch: at-least-once, a batch is committed only after the
body has recorded it. Replicas share the topics' partitions through the agent's own consumer group
(`<app id>.<agent name>`). A stop lets the body finish the batch in hand, commits it and leaves the group.

One agent may read several topics (a batch then mixes them; `by_topic` splits it): a service reads all its
hot topics with one consumer, one group join and one fetch loop, not one of each per topic — an idle
consumer still fetches twice a second, and every join adds to a start.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

if TYPE_CHECKING:
    from seqflow.service import SeqflowApp

log = logging.getLogger(__name__)
consumed = logging.getLogger("seqflow.consumed")

Records = list[ConsumerRecord]  # each has .topic, .partition, .offset, .key and .value (bytes or None)
Body = Callable[[AsyncIterator[Records]], Awaitable[None]]
# How long a fetch waits at the broker for data (aiokafka's default). Tansu answers a waiting fetch early only
# for waits under 250 ms: 500 ms puts 50-300 ms on a hop when a consumer is idle, 50-200 ms take 3-9 ms
# (measured here), but the shorter waits cost more fetches; at volume, with 500 ms, bench/live.py --contacts
# 20000 ran at 637 emails/s and 1.86 ms of CPU an email, against 550/2.16 (250 ms) and 436-509/2.3-2.6 (200 ms).
FETCH_WAIT_MS = 500
STOP_WAIT = 30.0  # seconds a stop waits for the body to finish its batch before cancelling it


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, agent: BatchAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.agent.joined = True  # also with no partition: more replicas than partitions is a valid state


class BatchAgent:
    def __init__(self, app: SeqflowApp, topics: Sequence[str], name: str, body: Body, size: int,
                 within: float) -> None:  # fmt: skip
        self.app, self.topics, self.name, self.body = app, tuple(topics), name, body
        self.topic = ",".join(self.topics)  # for log lines
        self.size, self.within = size, within
        self.joined = False
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.stopping = False

    async def start(self) -> None:
        """Start consuming in the background: joining the group can take a while (a rebalance), and the
        app's start must not wait for it — /ready does (`joined`)."""
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        self.stopping = True
        if self._task is not None:
            patience = STOP_WAIT if self.joined else 0  # not joined yet: no batch in hand
            done, _ = await asyncio.wait([self._task], timeout=patience) if patience else (set(), set())
            if not done:
                if self.joined:
                    log.warning("consumer body did not finish its batch in time", extra={"topic": self.topic})
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if self.consumer is not None:
            await self.consumer.stop()

    async def _run(self) -> None:
        try:
            for topic in self.topics:
                await self.app.topic(topic, key_serializer="raw", value_serializer="raw").maybe_declare()
            conf = self.app.conf
            self.consumer = AIOKafkaConsumer(
                bootstrap_servers=self.app.settings.kafka_bootstrap.split(","),
                group_id=f"{conf.id}.{self.name}",
                client_id=f"{conf.id}.{self.name}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=int(conf.broker_session_timeout * 1000),
                heartbeat_interval_ms=int(conf.broker_heartbeat_interval * 1000),
                fetch_max_wait_ms=FETCH_WAIT_MS,
            )
            self.consumer.subscribe(list(self.topics), listener=_Joined(self))
            await self.consumer.start()  # returns once the group gave this consumer its partitions
            leave_from_generation_zero(self.consumer)
            await self.body(self._batches())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("consumer crashed", extra={"topic": self.topic})
            raise

    async def _batches(self) -> AsyncIterator[Records]:
        while not self.stopping:
            records = await self._take()
            if records:
                for topic, some in by_topic(records).items():
                    consumed.info("consumed %d messages", len(some), extra={"topic": topic})
                yield records
                await self._commit(records)

    async def _take(self) -> Records:
        """Up to `size` records: what is fetched now, then more for up to `within` after the first."""
        assert self.consumer is not None
        loop = asyncio.get_running_loop()
        out: Records = []
        wait, deadline = self.within, None
        while len(out) < self.size and not self.stopping:
            got = await self.consumer.getmany(timeout_ms=max(1, int(wait * 1000)), max_records=self.size - len(out))
            for records in got.values():
                out.extend(records)
            if not out:
                return out  # nothing yet: the caller looks at `_stopping` and asks again
            if deadline is None:
                deadline = loop.time() + self.within
            wait = deadline - loop.time()
            if wait <= 0:
                break
        return out

    async def _commit(self, records: Records) -> None:
        assert self.consumer is not None
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance took the partitions: their new owner redoes the batch (idempotent)
            log.warning("offsets not committed", extra={"topic": self.topic, "reason": f"{type(exc).__name__}: {exc}"})


def leave_from_generation_zero(consumer: AIOKafkaConsumer) -> None:
    """Tansu numbers a group's first generation 0 (Kafka: 1), and aiokafka leaves a group on stop only from
    generation 1 on: a stopped consumer stayed a member until its session expired, and the next join (a
    restart, a new replica) waited those 10 s. Its close sends the LeaveGroup from generation 0 too."""
    coordinator = consumer._coordinator
    if coordinator is None:
        return
    leave = coordinator._maybe_leave_group

    async def leave_any_generation() -> None:
        if coordinator.generation == 0 and coordinator.member_id:
            coordinator.generation = 1  # close() stopped the heartbeats: only the LeaveGroup request follows
        await leave()

    coordinator._maybe_leave_group = leave_any_generation


def by_topic(records: Records) -> dict[str, Records]:
    """A batch's records per topic, each in the order fetched (so per partition, in offset order)."""
    out: dict[str, Records] = defaultdict(list)
    for r in records:
        out[r.topic].append(r)
    return out


def batch_agent(app: SeqflowApp, topics: str | Sequence[str], name: str, size: int,
                within: float) -> Callable[[Body], Body]:  # fmt: skip
    """Decorator: run `body(batches)` on `topics` while the app runs (started after the app, stopped first)."""

    def register(body: Body) -> Body:
        app.batch_agents.append(BatchAgent(app, [topics] if isinstance(topics, str) else topics, name, body,
                                           size, within))  # fmt: skip
        return body

    return register
