"""Service settings, read once from the environment (prefix `SEQFLOW_`) and passed down.

| variable | default | meaning |
|---|---|---|
| `SEQFLOW_KAFKA_BOOTSTRAP` | `127.0.0.1:19092` | Kafka bootstrap servers (host:port[,...]) |
| `SEQFLOW_DATABASE_URL` | `postgresql://postgres@127.0.0.1:5432/seqflow` | PostgreSQL DSN |
| `SEQFLOW_SCHEMA_PREFIX` | (empty) | prefix of every service schema (tests) |
| `SEQFLOW_TOPIC_PREFIX` | (empty) | prefix of every topic name (tests) |
| `SEQFLOW_CLOCK` | `system` | `system` or `file:/path/to/clockfile` |
| `SEQFLOW_LOG_LEVEL` | `INFO` | log level |
| `SEQFLOW_WEB_HOST` | `127.0.0.1` | bind address of the service's HTTP server |
| `SEQFLOW_WEB_PORT` | tasks 8000, scheduler 8001, dispatcher 8002, rollup-sync 8003 | HTTP port |
| `SEQFLOW_SMTP_HOST` | `127.0.0.1` | SMTP relay host (dispatcher) |
| `SEQFLOW_SMTP_PORT` | `8025` | SMTP relay port (dispatcher) |
| `SEQFLOW_SMS_URL` | `http://127.0.0.1:8030` | SMS provider base URL (dispatcher) |
| `SEQFLOW_SMS_ACCOUNT_SID` | (empty) | SMS provider account id |
| `SEQFLOW_SMS_AUTH_TOKEN` | (empty) | SMS provider auth token; also the key of inbound SMS signatures |
| `SEQFLOW_SMS_FROM` | `+15550000000` | sender number of automatic SMS |
| `SEQFLOW_TRACKING_SECRET` | `dev-tracking-secret` | HMAC key signing tracking links and Message-IDs |
| `SEQFLOW_EMAIL_WEBHOOK_SECRET` | `dev-email-webhook-secret` | HMAC key of inbound email webhook signatures |
| `SEQFLOW_PUBLIC_URL` | `http://127.0.0.1:8000` | public base URL of the API (links) |
| `SEQFLOW_ADMIN_TOKEN` | `dev-admin-token` | API token of the built-in admin user |
| `SEQFLOW_TICK_SECONDS` | `1.0` | scheduler timer tick, seconds |
| `SEQFLOW_DATADIR` | `.seqflow` | directory for per-process faust data |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, PositiveInt

ENV_PREFIX = "SEQFLOW_"

DEFAULT_WEB_PORTS: dict[str, int] = {
    "tasks": 8000,
    "scheduler": 8001,
    "dispatcher": 8002,
    "rollup-sync": 8003,
}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str = "seqflow"
    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/seqflow"
    schema_prefix: str = ""
    topic_prefix: str = ""
    clock: str = "system"
    log_level: str = "INFO"
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_pool_size: int = 8  # SMTP sessions the dispatcher keeps open (each carries one message at a time)
    sms_url: str = "http://127.0.0.1:8030"
    sms_account_sid: str = ""
    sms_auth_token: str = ""
    sms_from: str = "+15550000000"
    tracking_secret: str = "dev-tracking-secret"  # noqa: S105 - a dev default, overridden in production
    email_webhook_secret: str = "dev-email-webhook-secret"  # noqa: S105 - a dev default, overridden in production
    public_url: str = "http://127.0.0.1:8000"
    admin_token: str = "dev-admin-token"  # noqa: S105 - a dev default, overridden in production
    tick_seconds: float = 1.0
    scheduler_slice: PositiveInt = 1000  # due timers and inputs of an unlimited sequence a tick or lane slice takes
    datadir: str = ".seqflow"

    @classmethod
    def from_env(cls, service: str = "seqflow", environ: Mapping[str, str] | None = None) -> Settings:
        """Settings for `service` from `environ` (default `os.environ`); the only reader of the env."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"service": service, "web_port": DEFAULT_WEB_PORTS.get(service, 8000)}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if name != "service" and key in env:
                values[name] = env[key]
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """The `SEQFLOW_*` variables that rebuild these settings in a child process."""
        skip = {"service", "web_port"}
        return {ENV_PREFIX + k.upper(): str(v) for k, v in self.model_dump().items() if k not in skip}

    def schema_name(self, base: str) -> str:
        """The real schema name of a service schema (`scheduler` → `<prefix>scheduler`)."""
        return f"{self.schema_prefix}{base}"
