"""Message-IDs derived from idempotency keys with a keyed MAC (SPEC §6)."""

import hashlib
import re

import pytest

from seqflow.channels.message_id import idempotency_key, message_id_for

KEY = b"test-secret"


def test_idempotency_key_joins_sequence_contact_step_and_attempt() -> None:
    assert idempotency_key("seq1", "c42", "intro", 0) == "seq1:c42:intro:0"


def test_message_id_is_deterministic_for_the_same_key() -> None:
    key = idempotency_key("seq1", "c42", "intro", 0)
    assert message_id_for(key, key=KEY) == message_id_for(key, key=KEY)


def test_message_id_differs_per_attempt() -> None:
    first = message_id_for(idempotency_key("seq1", "c42", "intro", 0), key=KEY)
    retry = message_id_for(idempotency_key("seq1", "c42", "intro", 1), key=KEY)
    assert first != retry


def test_message_id_has_rfc5322_angle_bracket_form_with_the_domain() -> None:
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.example\.com>", message_id_for("k", "mail.example.com", key=KEY))


def test_message_ids_are_unique_across_many_keys() -> None:
    ids = {message_id_for(idempotency_key("s", f"c{i}", "step", i % 3), key=KEY) for i in range(10_000)}
    assert len(ids) == 10_000


def test_a_message_id_cannot_be_computed_from_the_ids_without_the_secret() -> None:
    key = idempotency_key("seq1", "c42", "intro", 0)
    plain_hash = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@seqflow.local>"
    assert message_id_for(key, key=KEY) != plain_hash
    assert message_id_for(key, key=KEY) != message_id_for(key, key=b"another-secret")


def test_a_message_id_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        message_id_for("k", key=b"")
