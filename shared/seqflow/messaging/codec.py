"""Bytes <-> Envelope <-> payload model; anything invalid raises PoisonMessage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model
from pydantic_core import to_json

from seqflow.messaging.envelope import Envelope

_PAYLOADS: dict[str, type[BaseModel]] = {}
_typed: TypeAdapter[Any] | None = None  # every registered type's envelope, built when first needed


class PoisonMessage(Exception):
    """A message that can never be processed; it belongs on the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(env: Envelope) -> bytes:
    return env.model_dump_json().encode("utf-8")


def encode_wrapped(type_: str, key: str, payload: BaseModel, occurred_at: datetime) -> bytes:
    """`encode(Envelope.wrap(type_, key, payload, occurred_at))`, byte for byte, without building the envelope
    and dumping the payload twice (the scheduler writes several messages per email)."""
    body = payload.__pydantic_serializer__.to_json(payload)
    return b"".join((
        b'{"id":', to_json(uuid.uuid4()), b',"type":', to_json(type_), b',"version":1,"occurred_at":',
        to_json(occurred_at.astimezone(UTC)), b',"key":', to_json(key), b',"payload":', body, b"}",
    ))  # fmt: skip


def decode(data: bytes | None) -> Envelope:
    if data is None:
        raise PoisonMessage("empty message value")
    try:
        return Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid envelope: {_summary(exc)}") from exc


def register(type_name: str, model: type[BaseModel]) -> None:
    """Declare the payload model of an envelope type; registering twice with another model is a bug."""
    known = _PAYLOADS.get(type_name)
    if known is not None and known is not model:
        raise ValueError(f"envelope type {type_name!r} already registered to {known.__name__}")
    _PAYLOADS[type_name] = model
    global _typed
    _typed = None


def registered_types() -> frozenset[str]:
    return frozenset(_PAYLOADS)


def decode_payload(env: Envelope) -> BaseModel:
    model = _PAYLOADS.get(env.type)
    if model is None:
        raise PoisonMessage(f"unknown message type {env.type!r}")
    try:
        return model.model_validate(env.payload)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {env.type} payload: {_summary(exc)}") from exc


def decode_typed(data: bytes | None) -> tuple[Envelope, BaseModel]:
    """`decode` then `decode_payload`, in one pass over the JSON for a valid message (the payload is parsed
    straight into its model, not into a dict first). The envelope it returns carries the payload model
    where `Envelope.payload` has a dict: use the payload it returns. Poison raises what the two steps raise.
    """
    typed = _typed_envelopes()
    try:
        if typed is None:
            raise TypeError("fewer than two message types registered")
        env = typed.validate_json(data)  # type: ignore[arg-type] - None fails validation
    except (ValidationError, TypeError):
        env = decode(data)  # the reason a message is poison is the one the two steps give
        return env, decode_payload(env)
    return env, env.payload


def _typed_envelopes() -> TypeAdapter[Any] | None:
    """The envelope of each registered type with its payload model, told apart by `type`."""
    global _typed
    if _typed is None and len(_PAYLOADS) > 1:
        models = [
            create_model(f"Envelope_{name}", __base__=Envelope, type=(Literal[name], ...), payload=(model, ...))
            for name, model in _PAYLOADS.items()
        ]
        _typed = TypeAdapter(Annotated[Union[tuple(models)], Field(discriminator="type")])  # noqa: UP007
    return _typed


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)
