"""Mapping SMS provider responses to send errors (pure)."""

import pytest

from seqflow.channels.errors import PermanentSendError, TransientSendError
from seqflow.channels.sms import messages_url, provider_error


def test_messages_url_follows_the_twilio_shape() -> None:
    assert messages_url("http://h:1/", "AC1") == "http://h:1/2010-04-01/Accounts/AC1/Messages.json"


def test_a_4xx_is_permanent_and_names_the_provider_message_and_code() -> None:
    err = provider_error(400, {"code": 21604, "message": "A 'To' phone number is required."})
    assert isinstance(err, PermanentSendError)
    assert err.code == 21604 and err.status == 400 and "'To'" in str(err)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_transient(status: int) -> None:
    assert isinstance(provider_error(status, {}), TransientSendError)
