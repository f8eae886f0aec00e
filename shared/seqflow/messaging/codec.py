"""Bytes <-> Envelope <-> payload model; anything invalid raises PoisonMessage."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from seqflow.messaging.envelope import Envelope

_PAYLOADS: dict[str, type[BaseModel]] = {}


class PoisonMessage(Exception):
    """A message that can never be processed; it belongs on the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(env: Envelope) -> bytes:
    return env.model_dump_json().encode("utf-8")


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


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)
