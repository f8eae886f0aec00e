"""docs/rules.md: every worked example, run through `seqflow simulate`, prints exactly the output shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqflow.cli import main

RULES = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
BLOCK = re.compile(r"^```(json scenario|jsonl expected)\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)


def worked_examples() -> list[tuple[str, str]]:
    """(scenario, expected output) pairs, in the order the document shows them."""
    blocks = BLOCK.findall(RULES.read_text(encoding="utf-8"))
    kinds = [kind for kind, _ in blocks]
    assert kinds == ["json scenario", "jsonl expected"] * (len(kinds) // 2), "scenario/expected blocks must pair up"
    return [(blocks[i][1], blocks[i + 1][1]) for i in range(0, len(blocks), 2)]


def simulate(scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "scenario.json"
    path.write_text(scenario, encoding="utf-8")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", str(path)])
    out = capsys.readouterr()
    assert exit_.value.code == 0, out.err
    return out.out


def test_rules_md_has_a_worked_example_for_each_family_of_rules() -> None:
    assert len(worked_examples()) >= 8


@pytest.mark.parametrize(("scenario", "expected"), worked_examples())
def test_each_worked_example_in_rules_md_is_what_the_simulator_prints(
    scenario: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert simulate(scenario, tmp_path, capsys).splitlines() == expected.splitlines()
