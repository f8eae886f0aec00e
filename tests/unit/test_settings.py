import pytest
from pydantic import ValidationError

from seqflow.cli import main
from seqflow.settings import Settings


def test_settings_come_from_prefixed_environment_variables() -> None:
    env = {"SEQFLOW_KAFKA_BOOTSTRAP": "k:1", "SEQFLOW_TICK_SECONDS": "0.2", "SEQFLOW_WEB_PORT": "9999"}
    settings = Settings.from_env("scheduler", env)
    assert (settings.kafka_bootstrap, settings.tick_seconds, settings.web_port) == ("k:1", 0.2, 9999)


def test_each_service_has_its_own_default_web_port() -> None:
    ports = [Settings.from_env(s, {}).web_port for s in ("tasks", "scheduler", "dispatcher", "rollup-sync")]
    assert ports == [8000, 8001, 8002, 8003]


def test_settings_round_trip_through_the_environment_of_a_child_process() -> None:
    settings = Settings.from_env("tasks", {"SEQFLOW_TOPIC_PREFIX": "p-", "SEQFLOW_CLOCK": "file:/x"})
    assert Settings.from_env("tasks", settings.to_env()) == settings


def test_the_scheduler_slice_is_a_positive_count() -> None:
    assert Settings.from_env("scheduler", {"SEQFLOW_SCHEDULER_SLICE": "25"}).scheduler_slice == 25
    assert Settings.from_env("scheduler", {}).scheduler_slice == 1000
    with pytest.raises(ValidationError, match="scheduler_slice"):
        Settings.from_env("scheduler", {"SEQFLOW_SCHEDULER_SLICE": "0"})


def test_a_bad_setting_stops_the_command_with_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEQFLOW_SCHEDULER_SLICE", "0")
    with pytest.raises(SystemExit) as stopped:
        main(["scheduler"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "SEQFLOW_SCHEDULER_SLICE" in err and "Traceback" not in err
