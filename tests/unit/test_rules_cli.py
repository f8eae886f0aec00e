"""`seqflow simulate FILE` (SPEC §8): JSON Lines on stdout and exit 0, or exit 2 with the reason on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seqflow.rules.simulate import main


def valid() -> dict[str, Any]:
    return {
        "template": {
            "name": "t",
            "owner": "alice",
            "branches": [
                {
                    "key": "main",
                    "steps": [
                        {
                            "key": "intro",
                            "type": "auto_email",
                            "email": {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"},
                            "conditions": [
                                {"when": "replied", "then": {"complete": True}},
                                {"when": "no_condition_met", "within": "P3D", "then": {"next": True}},
                            ],
                        },
                        {"key": "call", "type": "call"},
                    ],
                }
            ],
        },
        "activation": {
            "name": "Python Q4 – Alice",
            "begin": "2026-12-01",
            "send_days": ["mon", "tue", "wed", "thu", "fri"],
            "send_window": {"start": "08:00", "stop": "17:00"},
            "timezone": "America/New_York",
            "primary_user": "alice",
        },
        "activated_at": "2026-12-01T14:00:00Z",
        "contacts": [{"id": "c1", "first_name": "Ada", "email": "ada@x.example", "phone": "+15550001"}],
        "events": [{"at": "2026-12-01T15:00:00Z", "type": "opened", "contact": "c1", "step": "intro"}],
        "until": "2026-12-31T00:00:00Z",
    }


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "scenario.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_a_valid_scenario_prints_json_lines_and_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # sent Tue 14:00Z; the open has no condition; deadline Fri 12-04 14:00Z → call shown then
    assert main([write(tmp_path, valid())]) == 0
    out = capsys.readouterr().out
    assert [json.loads(line) for line in out.splitlines()] == [
        {"at": "2026-12-01T14:00:00Z", "contact": "c1", "step": "intro", "action": "email_sent"},
        {"at": "2026-12-01T14:00:00Z", "contact": "c1", "step": "intro", "action": "entered"},
        {"at": "2026-12-04T14:00:00Z", "contact": "c1", "step": "call", "action": "task_due"},
    ]
    assert out.endswith("\n")


def test_an_ignored_event_goes_to_stderr_and_still_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = valid()
    data["events"] = [{"at": "2026-12-01T15:00:00Z", "type": "replied", "contact": "nobody", "step": "intro"}]
    assert main([write(tmp_path, data)]) == 0
    captured = capsys.readouterr()
    assert "nobody" in captured.err
    assert len(captured.out.splitlines()) == 3


def test_a_dangling_goto_step_exits_two_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid()
    data["template"]["branches"][0]["steps"][0]["conditions"][0]["then"] = {"goto_step": "nowhere"}
    assert main([write(tmp_path, data)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "goto_step" in captured.err and "nowhere" in captured.err


def test_a_file_that_is_not_json_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([write(tmp_path, "{not json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "JSON" in captured.err


def test_an_unknown_event_type_exits_two_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid()
    data["events"] = [{"at": "2026-12-01T15:00:00Z", "type": "forwarded", "contact": "c1", "step": "intro"}]
    assert main([write(tmp_path, data)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "events[0].type" in captured.err


def test_a_missing_file_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err


def test_a_bad_activation_exits_two_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid()
    data["activation"]["send_window"] = {"start": "17:00", "stop": "08:00"}
    assert main([write(tmp_path, data)]) == 2
    assert "send_window" in capsys.readouterr().err
