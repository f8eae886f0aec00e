"""Errors raised by the channel adapters; the dispatcher retries transient ones only."""

from __future__ import annotations


class SendError(Exception):
    """A send did not go through; `code` is the provider's code (SMTP reply or API error code)."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class PermanentSendError(SendError):
    """Retrying cannot help (5xx SMTP reply, 4xx API response): the step fails."""


class BouncedError(PermanentSendError):
    """The provider refused the address itself (SMTP 5xx, an invalid phone number): a hard bounce (SPEC §6)."""


class TransientSendError(SendError):
    """Retrying may help (connection error, timeout, 4xx SMTP reply, 5xx/429 API response)."""


class InvalidToken(ValueError):
    """A tracking token is malformed, forged or of the wrong kind."""
