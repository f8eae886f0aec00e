"""The task list's filters as the page shows them (dates) and as the API takes them (instants)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from urllib.parse import parse_qsl

KEYS = ("sequence", "user", "priority", "type", "due_from", "due_to")
PRIORITIES = ("high", "normal", "low")
STEP_TYPES = ("call", "manual_email", "manual_sms", "linkedin", "task")


def picked(params: Mapping[str, str]) -> dict[str, str]:
    """The filters set in a query (or a form's `list` field): known keys with a non-empty value."""
    return {k: params[k].strip() for k in KEYS if params.get(k, "").strip()}


def from_list_field(value: str) -> dict[str, str]:
    """The filters a form carried back in its hidden `list` field (the list it was posted from)."""
    return picked(dict(parse_qsl(value)))


def api_query(f: Mapping[str, str], *, without: tuple[str, ...] = ()) -> dict[str, str]:
    """The API's query: a due date range of whole UTC days becomes [from 00:00, day after `to` 00:00)."""
    out = {k: v for k, v in f.items() if k not in without}
    for key, shift in (("due_from", 0), ("due_to", 1)):
        if key in out:
            out[key] = _day_start(out[key], shift)
    return out


def _day_start(value: str, shift: int) -> str:
    """A `YYYY-MM-DD` as the UTC instant starting it (+shift days); other text goes to the API unchanged,
    so a bad value gets the API's own 422 naming the field."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    return f"{day + timedelta(days=shift)}T00:00:00+00:00"
