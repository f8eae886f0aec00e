"""Domain validation errors and the one formatter that turns them into `path: what is wrong` lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

Issue = tuple[str, str]
"""A (relative field path, what is wrong) pair, e.g. ("conditions[2].within", "must be zero or more")."""


class DomainError(ValueError):
    """Raised inside model validators; carries every issue with its path relative to the model."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        super().__init__("; ".join(f"{path}: {what}" if path else what for path, what in self.issues))


class TemplateError(ValueError):
    """A template that fails validation; the message lists every error as `path: what is wrong`."""


class ActivationError(ValueError):
    """Activation settings that fail validation; the message lists every error as `path: what is wrong`."""


def join_path(base: str, sub: str) -> str:
    """Join two field paths: `branches[0]` + `steps[1].key` -> `branches[0].steps[1].key`."""
    if not base or not sub:
        return base or sub
    return f"{base}{sub}" if sub.startswith("[") else f"{base}.{sub}"


def loc_to_path(loc: Iterable[int | str]) -> str:
    """Render a pydantic location tuple as `branches[0].steps[1].type`."""
    path = ""
    for part in loc:
        path = join_path(path, f"[{part}]" if isinstance(part, int) else str(part))
    return path


def _strip_prefix(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def validation_issues(exc: ValidationError) -> list[Issue]:
    """Every error of a pydantic ValidationError as absolute (path, what) pairs."""
    issues: list[Issue] = []
    for err in exc.errors():
        base = loc_to_path(err["loc"])
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, DomainError):
            issues.extend((join_path(base, sub), what) for sub, what in cause.issues)
        else:
            issues.append((base, _strip_prefix(err["msg"])))
    return issues


def format_validation_error(exc: ValidationError) -> str:
    """One line per error: `path: what is wrong` (the path is `(root)` for whole-document errors)."""
    return "\n".join(f"{path or '(root)'}: {what}" for path, what in validation_issues(exc))


def validate_document(model: type[M], data: str | bytes | Mapping[str, Any], error: type[ValueError]) -> M:
    """A model from JSON text or parsed JSON; `error` carries every problem as `path: what`."""
    try:
        if isinstance(data, str | bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(format_validation_error(exc)) from exc
