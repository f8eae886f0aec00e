"""The Jinja2 environment of the web pages: autoescaped everywhere, so contact data is always text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def when(value: Any) -> str:
    """An API instant (ISO text) as a short readable UTC time: `Tue 1 Dec 14:00 UTC`."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return at.strftime("%a %-d %b %H:%M ") + (at.tzname() or "")


def qs(params: Mapping[str, Any], **changes: Any) -> str:
    """A query string from `params` with `changes` applied; None or empty values are left out."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    env.filters["when"] = when
    env.globals["qs"] = qs
    return env


ENV = make_env()


def render_page(name: str, context: Mapping[str, Any]) -> str:
    return ENV.get_template(name).render(**context)
