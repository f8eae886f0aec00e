"""Activation settings → the engine's inputs: Gates and whole-second instants (one place, used by all)."""

from __future__ import annotations

from datetime import UTC, datetime

from seqflow.domain.activation import Activation
from seqflow.rules.calendar import ALL_DAYS, DAY, Gates


def whole_seconds(t: datetime) -> datetime:
    """Times are whole seconds in UTC everywhere in the engine; a fraction is dropped."""
    return t.astimezone(UTC).replace(microsecond=0)


def gates_for(activation: Activation) -> Gates:
    """The static open predicate of an activation."""
    window = activation.send_window
    days = activation.weekday_numbers if activation.send_days else ALL_DAYS
    end = activation.end_instant()
    return Gates(
        tz=activation.tz,
        begin=whole_seconds(activation.begin_instant()),
        end=whole_seconds(end) if end else None,
        days=frozenset(days),
        start=window.start_seconds if window else 0,
        stop=window.stop_seconds if window else DAY,
    )
