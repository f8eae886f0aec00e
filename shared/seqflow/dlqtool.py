"""`seqflow dlq list|replay`: look at dead-lettered messages and put them back on their topic.

A dead letter (messaging/dlq.py) is the original key and bytes on `<topic>.dlq` with the reason and the
source topic in headers. Replay produces those bytes unchanged to the source topic: every consumer is
idempotent (event ids, the dispatcher's ledger), so replaying what was in fact processed changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from seqflow.messaging.dlq import REASON_HEADER, SOURCE_HEADER
from seqflow.messaging.topics import ALL, DLQ_SUFFIX, Topics
from seqflow.settings import Settings

FETCH_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    reason: str
    source: str

    @property
    def id(self) -> str:
        """The envelope id when the bytes are an envelope; else the message's place on the DLQ."""
        try:
            doc = json.loads(self.value)
        except ValueError:
            doc = None
        found = doc.get("id") if isinstance(doc, dict) else None
        return str(found) if isinstance(found, str) and found else f"p{self.partition}o{self.offset}"

    def row(self, now_ms: int) -> list[str]:
        key = self.key.decode("utf-8", "replace") if self.key is not None else "-"
        topic = self.source or self.dlq_topic.removesuffix(DLQ_SUFFIX)
        age = format_age((now_ms - self.timestamp_ms) / 1000)
        return [topic, str(self.partition), str(self.offset), age, key, self.id, self.reason]


def format_age(seconds: float) -> str:
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def header(headers: Sequence[tuple[str, bytes]], name: str) -> str:
    return next((value.decode("utf-8", "replace") for key, value in headers if key == name), "")


async def read_dlqs(bootstrap: str, dlq_topics: list[str]) -> list[DeadLetter]:
    """Every message on these dead-letter topics, from the beginning to the current end (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in dlq_topics for p in sorted(await _partitions(consumer, t))]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return await _drain(consumer, await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    topics = await consumer.topics()  # refreshes metadata without creating the topic
    return (consumer.partitions_for_topic(topic) or set()) if topic in topics else set()


async def _drain(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[DeadLetter]:
    out: list[DeadLetter] = []
    while await _behind(consumer, ends):
        batches = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
        for tp, records in batches.items():
            out.extend(
                DeadLetter(tp.topic, tp.partition, r.offset, r.timestamp, r.key, r.value or b"",
                           header(r.headers, REASON_HEADER), header(r.headers, SOURCE_HEADER))  # fmt: skip
                for r in records
                if r.offset < ends[tp]
            )
    return sorted(out, key=lambda d: (d.timestamp_ms, d.partition, d.offset))


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    return any([await consumer.position(tp) < end for tp, end in ends.items()])


async def replay(bootstrap: str, letters: list[DeadLetter], default_topic: str) -> int:
    """Produce each letter's original key and bytes to its source topic, awaiting every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(letter.source or default_topic, letter.value, key=letter.key)
    finally:
        await producer.stop()
    return len(letters)


# ---------------------------------------------------------------------------------------------- the command


class UsageError(Exception):
    """A bad option: exit 2 with the message, like argparse."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqflow dlq", description="Dead-lettered messages.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = sub.add_parser("list", help="reason, age, key and id of every dead-lettered message")
    show.add_argument("--topic", help="only this topic's dead letters (e.g. rollup.commands)")
    again = sub.add_parser("replay", help="re-publish dead-lettered messages to their topic")
    again.add_argument("--topic", required=True, help="the topic whose dead letters to replay")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="replay only the message with this id (as `list` shows it)")
    which.add_argument("--all", action="store_true", help="replay every dead letter of the topic")
    return parser


def base_topic(option: str | None) -> str | None:
    """The base topic name an option names (`rollup.commands` or `rollup.commands.dlq`), checked."""
    if option is None:
        return None
    base = option.removesuffix(DLQ_SUFFIX)
    if base not in ALL:
        raise UsageError(f"--topic: unknown topic {option!r} (one of: {', '.join(ALL)})")
    return base


def print_table(letters: list[DeadLetter]) -> None:
    now_ms = int(time.time() * 1000)
    rows = [["topic", "partition", "offset", "age", "key", "id", "reason"], *(d.row(now_ms) for d in letters)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1])


async def run(args: argparse.Namespace, settings: Settings) -> int:
    topics = Topics(settings.topic_prefix)
    base = base_topic(args.topic)
    letters = await read_dlqs(settings.kafka_bootstrap, [topics.dlq(b) for b in ([base] if base else ALL)])
    if args.action == "list":
        print_table(letters)
        return 0
    assert base is not None  # required by the parser
    chosen = letters if args.all else [d for d in letters if d.id == args.id]
    if not chosen:
        print(f"seqflow dlq: no dead letter with id {args.id!r} on {topics.dlq(base)}", file=sys.stderr)
        return 1
    count = await replay(settings.kafka_bootstrap, chosen, topics.name(base))
    print(f"replayed {count} message(s) to {topics.name(base)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args, Settings.from_env("seqflow")))
    except UsageError as exc:
        parser.error(str(exc))  # exits 2, naming the option
    return 2
