"""`seqflow scheduler`: applies the time rules to every enrollment and emits due work."""

from __future__ import annotations

from seqflow.logs import configure_logging
from seqflow.service import run_worker
from seqflow.settings import Settings
from seqflow_scheduler.app import create_app


def run(settings: Settings) -> int:
    configure_logging("scheduler", settings.log_level)
    run_worker(create_app(settings))
    return 0
