"""The dispatcher's bounded retry of transient send errors."""

from __future__ import annotations

import pytest

from seqflow.channels.errors import PermanentSendError, TransientSendError
from seqflow_dispatcher.channels import RetryPolicy, with_retries

FAST = RetryPolicy(attempts=3, base_delay=0.0)


class Flaky:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "id-1"


async def test_a_transient_error_is_retried_until_the_send_succeeds() -> None:
    attempt = Flaky([TransientSendError("busy"), TransientSendError("busy")])
    assert await with_retries(attempt, FAST) == "id-1" and attempt.calls == 3


async def test_transient_errors_stop_after_the_last_attempt() -> None:
    attempt = Flaky([TransientSendError(str(n)) for n in range(5)])
    with pytest.raises(TransientSendError, match="2"):
        await with_retries(attempt, FAST)
    assert attempt.calls == 3


async def test_a_permanent_error_is_not_retried() -> None:
    attempt = Flaky([PermanentSendError("550")])
    with pytest.raises(PermanentSendError):
        await with_retries(attempt, FAST)
    assert attempt.calls == 1
