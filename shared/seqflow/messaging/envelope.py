"""The one envelope every topic carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    occurred_at: AwareDatetime
    key: str
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def wrap(cls, type_: str, key: str, payload: BaseModel, occurred_at: datetime, version: int = 1) -> Envelope:
        """An envelope around a payload model (dumped in JSON mode so it survives encoding)."""
        return cls(
            type=type_,
            version=version,
            occurred_at=occurred_at,
            key=key,
            payload=payload.model_dump(mode="json"),
        )
