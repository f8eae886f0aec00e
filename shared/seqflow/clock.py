"""The injectable clock: system time in production, a shared file clock in tests."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FileClock:
    """Time read from a file holding one ISO UTC instant, so separate processes share it.

    The file is re-read only when its (inode, mtime) changes, so calling it per message is cheap.
    The inode is part of the key because `set_file_clock` renames a new file into place and coarse
    mtime granularity alone could hide two quick updates.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._cached: datetime | None = None

    def now(self) -> datetime:
        st = self.path.stat()
        stamp = (st.st_ino, st.st_mtime_ns)
        if self._cached is None or stamp != self._stamp:
            self._cached = parse_instant(self.path.read_text(encoding="utf-8"))
            self._stamp = stamp
        return self._cached


def parse_instant(text: str) -> datetime:
    """An aware UTC datetime from ISO text; naive text is rejected."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"clock instant must carry a timezone: {text!r}")
    return value.astimezone(UTC)


def set_file_clock(path: Path | str, when: datetime) -> None:
    """Atomically set a file clock (write a temp file, then rename over the target)."""
    if when.tzinfo is None:
        raise ValueError("clock instant must be timezone-aware")
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".clock-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(when.astimezone(UTC).isoformat())
    os.replace(tmp, target)


def make_clock(spec: str) -> Clock:
    """`system` (default) or `file:/path/to/clockfile`."""
    if spec in ("", "system"):
        return SystemClock()
    if spec.startswith("file:"):
        return FileClock(spec.removeprefix("file:"))
    raise ValueError(f"unknown clock spec {spec!r}: use 'system' or 'file:/path'")
