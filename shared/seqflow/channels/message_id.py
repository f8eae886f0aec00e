"""Deterministic idempotency keys and RFC 5322 Message-IDs for sends (SPEC §6)."""

from __future__ import annotations

from seqflow.channels.tracking import keyed_sha256

# 128 bits of the MAC: collisions and guesses are out of reach and the id stays short.
_HEX_CHARS = 32
# Domain separation: the same secret also signs tracking links, whose MACs must never equal a Message-ID.
_PURPOSE = b"seqflow message-id\x00"


def idempotency_key(sequence_id: str, contact_id: str, step_key: str, attempt: int) -> str:
    """The key that makes a send happen at most once: sequence, contact, step, attempt."""
    return f"{sequence_id}:{contact_id}:{step_key}:{attempt}"


def message_id_for(idempotency_key: str, domain: str = "seqflow.local", *, key: bytes) -> str:
    """`<hex@domain>`: an HMAC-SHA256 of the idempotency key under `key` (the tracking secret).

    The same key always gives the same Message-ID (a retried send keeps it), different keys differ, and
    without the secret nobody can compute the Message-ID of a send from the ids they can see — so a forged
    reply or bounce cannot name one (the inbound webhooks match sends by Message-ID)."""
    if not key:
        raise ValueError("a Message-ID needs a non-empty secret key")
    mac = keyed_sha256(key).copy()
    mac.update(_PURPOSE + idempotency_key.encode("utf-8"))
    return f"<{mac.hexdigest()[:_HEX_CHARS]}@{domain}>"
