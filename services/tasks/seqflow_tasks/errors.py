"""The API's one error type (outside the `api` package so `policy` can raise it without an import cycle)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer other than success: status, message and the field it is about."""

    def __init__(self, status: int, error: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.extra = status, error, field, extra
