"""Deterministic idempotency keys and RFC 5322 Message-IDs for sends (SPEC §6)."""

from __future__ import annotations

import hashlib

# 128 bits of sha256: collisions are out of reach and the id stays short.
_HEX_CHARS = 32


def idempotency_key(sequence_id: str, contact_id: str, step_key: str, attempt: int) -> str:
    """The key that makes a send happen at most once: sequence, contact, step, attempt."""
    return f"{sequence_id}:{contact_id}:{step_key}:{attempt}"


def message_id_for(idempotency_key: str, domain: str = "seqflow.local") -> str:
    """`<hex@domain>`: the same key always gives the same Message-ID, different keys differ."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:_HEX_CHARS]
    return f"<{digest}@{domain}>"
