"""Import every payload family once so the codec knows every message type."""

from seqflow.messaging import dispatch, engagement, erasure, lifecycle, outcomes, rollup, work

__all__ = ["dispatch", "engagement", "erasure", "lifecycle", "outcomes", "rollup", "work"]
