"""`seqflow rollup-sync`: run the rollup-sync worker until stopped."""

from __future__ import annotations

from rollup_sync.app import SERVICE, create_app
from seqflow.logs import configure_logging
from seqflow.service import run_worker
from seqflow.settings import Settings


def run(settings: Settings) -> int:
    configure_logging(SERVICE, settings.log_level)
    run_worker(create_app(settings))
    return 0
