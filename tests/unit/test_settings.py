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
