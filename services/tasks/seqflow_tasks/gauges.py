"""Gauges of the tasks service: the open tasks the dashboard's "Open tasks" panel shows.

The count is global (every replica reads the same table), so the dashboard takes the max over replicas.
"""

from __future__ import annotations

import logging

from prometheus_client import Gauge

from seqflow.service import SeqflowApp

INTERVAL = 5.0  # seconds between refreshes: a panel, not an alert, reads it
log = logging.getLogger(__name__)


def register_gauges(app: SeqflowApp, schema: str) -> None:
    open_tasks = Gauge("seqflow_tasks_open", "Open tasks on the task lists (manual and error tasks)",
                       registry=app.registry)  # fmt: skip
    sql = f"SELECT count(*) FROM {schema}.tasks WHERE state = 'open'"  # noqa: S608 - schema is ours

    @app.timer(interval=INTERVAL)
    async def count_open_tasks() -> None:
        if app.pool is None:
            return
        try:
            async with app.pool.acquire() as c:
                open_tasks.set(int(await c.fetchval(sql)))
        except Exception:  # noqa: BLE001 - a metric must never take the service down
            log.debug("open task count unavailable", exc_info=True)
