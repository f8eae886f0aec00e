"""Bounded text for API input: no NUL character (PostgreSQL text and jsonb cannot hold one), sane lengths."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

NO_NUL = r"^[^\x00]*$"
MAX_ID = 200
MAX_NAME = 200
MAX_TEXT = 20_000

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID, pattern=NO_NUL)]
"""An identifier chosen by a client (a contact or user id)."""
UserId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")]
"""A user id: it appears in URLs (`/users/{id}/token`), so letters, digits and `._@-` only."""
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=r"^[^\x00]*\S[^\x00]*$")]
"""A display name: at least one non-space character."""
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=r"^[^\x00]*\S[^\x00]*$")]
"""Free text such as a note."""
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]


def storable(text: str) -> bool:
    """False for a string PostgreSQL cannot store: a NUL character or an unpaired surrogate (`"\\ud800"`)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_path(value: object, path: str = "") -> str | None:
    """The path of the first string (or key) in parsed JSON that `storable` refuses, else None."""
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str) and not storable(item):
            return at or "(body)"
        if isinstance(item, dict):
            for k, v in item.items():
                sub = f"{at}.{k}" if at else str(k)
                if not storable(k):
                    return sub
                stack.append((v, sub))
        elif isinstance(item, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(item))
    return None


def depth(value: object) -> int:
    """How deeply arrays and objects nest in parsed JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((v, level) for v in (item.values() if isinstance(item, dict) else item))
    return deepest
