"""rollup.commands (API → rollup-sync) and rollup.membership (rollup-sync → scheduler, tasks)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from seqflow.messaging.base import ContactData, Payload
from seqflow.messaging.codec import register

RemovalHow = Literal["member_removed", "remove_from_sequence"]


class RollupCreated(Payload):
    rollup_id: str
    name: str


class ContactUpserted(Payload):
    contact: ContactData


class AddMember(Payload):
    rollup_id: str
    contact_id: str
    at: AwareDatetime


class RemoveMember(Payload):
    rollup_id: str
    contact_id: str
    at: AwareDatetime
    how: RemovalHow = "member_removed"


class MemberAdded(Payload):
    """A contact joined a rollup; carries the contact so consumers keep their own copy."""

    rollup_id: str
    contact: ContactData
    at: AwareDatetime


class MemberRemoved(Payload):
    rollup_id: str
    contact_id: str
    at: AwareDatetime
    how: RemovalHow = "member_removed"


class ContactChanged(Payload):
    contact: ContactData
    at: AwareDatetime


COMMANDS = {"rollup_created": RollupCreated, "contact_upserted": ContactUpserted,
            "add_member": AddMember, "remove_member": RemoveMember}  # fmt: skip
MEMBERSHIP = {"member_added": MemberAdded, "member_removed": MemberRemoved, "contact_changed": ContactChanged}

for _name, _model in {**COMMANDS, **MEMBERSHIP}.items():
    register(_name, _model)
