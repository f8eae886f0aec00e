"""Message-IDs derived from idempotency keys (SPEC §6)."""

import re

from seqflow.channels.message_id import idempotency_key, message_id_for


def test_idempotency_key_joins_sequence_contact_step_and_attempt() -> None:
    assert idempotency_key("seq1", "c42", "intro", 0) == "seq1:c42:intro:0"


def test_message_id_is_deterministic_for_the_same_key() -> None:
    key = idempotency_key("seq1", "c42", "intro", 0)
    assert message_id_for(key) == message_id_for(key)


def test_message_id_differs_per_attempt() -> None:
    first = message_id_for(idempotency_key("seq1", "c42", "intro", 0))
    retry = message_id_for(idempotency_key("seq1", "c42", "intro", 1))
    assert first != retry


def test_message_id_has_rfc5322_angle_bracket_form_with_the_domain() -> None:
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.example\.com>", message_id_for("k", "mail.example.com"))


def test_message_ids_are_unique_across_many_keys() -> None:
    ids = {message_id_for(idempotency_key("s", f"c{i}", "step", i % 3)) for i in range(10_000)}
    assert len(ids) == 10_000
