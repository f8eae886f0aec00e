"""Fixtures of the unit tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from support.deploy import console_script, subcommands_from_parser


@pytest.fixture(scope="module")
def cli_has() -> Callable[[str], bool]:
    """A predicate: does the seqflow CLI have this subcommand?

    Reads seqflow.cli.build_parser() when it exists; otherwise asks the installed console script
    (`seqflow <cmd> --help`), after checking that it rejects a made-up subcommand.
    """
    names = subcommands_from_parser()
    if names is not None:
        return names.__contains__

    script = console_script()
    if script is None:
        pytest.fail("neither seqflow.cli.build_parser nor a `seqflow` console script is available")

    def runs(cmd: str) -> bool:
        result = subprocess.run([script, cmd, "--help"], capture_output=True, timeout=120, check=False)
        return result.returncode == 0

    assert not runs("surely-not-a-seqflow-subcommand"), "the seqflow CLI accepts any subcommand"
    return runs
