"""The base of every payload model: frozen, strict about unknown fields, times aware."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContactFields(Payload):
    """The editable fields of a contact (the About panel); every one optional."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    custom: dict[str, Any] = Field(default_factory=dict)
    resume: str | None = None


class ContactData(ContactFields):
    """A contact as it travels between services (rollup-sync owns the original)."""

    id: str = Field(min_length=1)


class UserRef(Payload):
    id: str
    name: str
    email: str
