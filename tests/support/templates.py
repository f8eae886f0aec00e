"""Template documents for the template tests: the SPEC's example and small builders."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from seqflow.domain.errors import TemplateError
from seqflow.domain.template import Template

SPEC_EXAMPLE: dict[str, Any] = {
    "name": "Senior Python outreach",
    "owner": "alice",
    "branches": [
        {
            "key": "main",
            "steps": [
                {
                    "key": "intro",
                    "type": "auto_email",
                    "delay": "PT0S",
                    "email": {
                        "from_alias": "alice@agency.example",
                        "subject": "Hi {{first_name}}",
                        "body": "...",
                    },
                    "conditions": [
                        {"when": "replied", "then": {"goto_branch": "engaged"}},
                        {"when": "clicked", "then": {"goto_step": "call"}},
                        {"when": "no_condition_met", "within": "P3D", "then": {"next": True}},
                    ],
                },
                {
                    "key": "bump",
                    "type": "auto_sms",
                    "delay": "P1D",
                    "sms": {"body": "Hi {{first_name}}, ..."},
                },
                {
                    "key": "call",
                    "type": "call",
                    "delay": "PT2H",
                    "priority": "high",
                    "instructions": "Ask about notice period",
                    "script": "Hi {{first_name}}, ...",
                    "conditions": [
                        {"when": "Connected", "then": {"complete": True}},
                        {"when": "Left voicemail", "then": {"next": True}},
                        {"when": "Not interested", "then": {"exit": "not_interested"}},
                    ],
                },
            ],
        },
        {"key": "engaged", "steps": [{"key": "book", "type": "task", "instructions": "Book a screen"}]},
    ],
}

EMAIL = {"from_alias": "a@x", "subject": "s", "body": "b"}


def example() -> dict[str, Any]:
    return copy.deepcopy(SPEC_EXAMPLE)


def auto(key: str, delay: str = "PT0S", conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"key": key, "type": "auto_email", "delay": delay, "email": EMAIL, "conditions": conditions or []}


def task(key: str) -> dict[str, Any]:
    return {"key": key, "type": "task"}


def ncm(within: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"when": "no_condition_met", "within": within, "then": then}


def one_branch(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "t", "owner": "alice", "branches": [{"key": "main", "steps": list(steps)}]}


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(TemplateError) as info:
        Template.from_json(data)
    return str(info.value)


def spec() -> Template:
    return Template.from_json(SPEC_EXAMPLE)
