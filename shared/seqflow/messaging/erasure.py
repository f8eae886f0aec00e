"""contact.erasure (tasks API → every service): erase a contact's personal data (GDPR Art. 17).

The event carries no personal data itself: the contact id, and the SHA-256 of each of its addresses so the
dispatcher can keep suppressing them and every service can find copies of them without knowing them.
"""

from __future__ import annotations

import hashlib

from pydantic import AwareDatetime

from seqflow.messaging.base import Payload
from seqflow.messaging.codec import register

# The same normalisation as the suppression list: surrounding spaces dropped, lower case.
HASH_SQL = "encode(sha256(convert_to(lower(btrim({column})), 'UTF8')), 'hex')"


def address_hash(address: str) -> str:
    """What HASH_SQL computes in PostgreSQL, for one address (email or phone)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


class ContactErased(Payload):
    contact_id: str
    address_hashes: list[str]
    at: AwareDatetime


register("contact_erased", ContactErased)
