"""`seqflow tasks`: run the tasks service (consumers and the public HTTP API) until stopped."""

from __future__ import annotations

from seqflow.logs import configure_logging
from seqflow.service import run_worker
from seqflow.settings import Settings
from seqflow_tasks.app import SERVICE, create_app


def run(settings: Settings) -> int:
    configure_logging(SERVICE, settings.log_level)
    run_worker(create_app(settings))
    return 0
