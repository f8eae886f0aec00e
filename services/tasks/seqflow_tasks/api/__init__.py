"""The public HTTP API: importing the resource modules fills the route registry."""

from seqflow_tasks.api import contacts, erasure, overview, rollups, sequences, tasks, templates, tracking, users
from seqflow_tasks.api.registry import ROUTES, Deps, install

__all__ = ["ROUTES", "Deps", "contacts", "erasure", "install", "overview", "rollups", "sequences", "tasks",
           "templates", "tracking", "users"]  # fmt: skip
