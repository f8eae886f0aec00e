"""API tests: the tasks service in-process (real broker and PostgreSQL), one per test."""

from support.tasks_service import api

__all__ = ["api"]
