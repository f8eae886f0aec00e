"""Merge fields: `{{first_name}}`, `{{custom.xyz}}`, `{{user.name}}`; unknown fields render empty."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from typing import Any

_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")


def render(template: str, contact: Mapping[str, Any], user: Mapping[str, Any] | None, *, html: bool = False) -> str:
    """Replace each `{{ field }}` with its value; with `html`, values are HTML-escaped."""

    def substitute(match: re.Match[str]) -> str:
        value = _stringify(resolve(match.group(1), contact, user))
        return htmllib.escape(value) if html else value

    return _FIELD.sub(substitute, template)


def resolve(field: str, contact: Mapping[str, Any], user: Mapping[str, Any] | None) -> Any:
    """`user.x` reads the user, `contact.x` and bare `x` read the contact; dots walk nested dicts."""
    head, *rest = field.split(".")
    if head == "user":
        return _walk(user or {}, rest)
    if head == "contact":
        return _walk(contact, rest)
    return _walk(contact, [head, *rest])


def _walk(root: Mapping[str, Any], path: list[str]) -> Any:
    node: Any = root
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return None if isinstance(node, Mapping) else node


def _stringify(value: Any) -> str:
    return "" if value is None else str(value)
