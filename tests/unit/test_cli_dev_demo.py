"""`seqflow dev --demo`: the flag is parsed, and the demo's console stays quiet by logging to a file."""

from __future__ import annotations

import logging
from pathlib import Path

from seqflow.cli import build_parser, log_to_file


def test_dev_accepts_the_demo_flag_and_defaults_to_no_demo() -> None:
    assert build_parser().parse_args(["dev", "--demo"]).demo is True
    assert build_parser().parse_args(["dev"]).demo is False


def test_the_demo_sends_every_log_record_to_its_file_instead_of_the_console(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = root.handlers[:]
    try:
        log_to_file(tmp_path / "logs" / "dev.log")
        logging.getLogger("pgserver").warning("noisy third-party line")
        assert all(isinstance(h, logging.FileHandler) for h in root.handlers)
        for h in root.handlers:
            h.flush()
        assert "noisy third-party line" in (tmp_path / "logs" / "dev.log").read_text()
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:] = before
