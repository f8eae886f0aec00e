"""schemathesis against the served /openapi.json as a user who owns real objects (issue 10, item 5).

Every operation gets generated requests, half of them aimed at alice's real template, rollup, contact,
sequence and task; any 5xx or any answer the document does not describe (status, media type, body, headers)
fails. Examples are bounded and derandomized so the run is repeatable and fits in well under 90 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.tasks_service import Api
from support.world import World, build_world

EXAMPLES = 10
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # valid requests, and requests the document forbids
BUDGET_SECONDS = 50.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]  # fmt: skip
# Which of alice's objects a path parameter names, by the path's first segment (users: bob, never herself,
# so a generated rotation or revocation cannot lock the fuzzing user out).
OBJECT_BY_PREFIX = {"templates": "template", "rollups": "rollup", "sequences": "sequence", "tasks": "task",
                    "contacts": "contact"}  # fmt: skip


def real_ids(path: str, objects: dict[str, str]) -> dict[str, str]:
    prefix = path.strip("/").split("/")[0]
    ids = {"id": "bob"} if prefix == "users" else {"id": objects.get(OBJECT_BY_PREFIX.get(prefix, ""), "x")}
    return {**ids, "contact_id": objects["contact"]}


def examples(operation: Any, base: str, headers: dict[str, str], ids: dict[str, str], deadline: float) -> Any:
    """The bounded hypothesis test of one operation; half its cases aim at real objects."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=st.one_of(*(operation.as_strategy(m) for m in MODES)), aimed=st.booleans())
    def run(case: Any, aimed: bool) -> None:
        if time.monotonic() > deadline:
            return
        if aimed and case.path_parameters:
            case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=10)

    return run


def fuzz(spec: dict[str, Any], base: str, token: str, objects: dict[str, str]) -> list[str]:
    """Run every operation's examples (blocking: called in a thread while the service serves)."""
    headers, failures = {"Authorization": f"Bearer {token}"}, []
    deadline = time.monotonic() + BUDGET_SECONDS
    for result in schemathesis.openapi.from_dict(spec).get_all_operations():
        operation = result.ok()
        try:
            examples(operation, base, headers, real_ids(operation.path, objects), deadline)()
        except (Exception, BaseExceptionGroup) as exc:  # every failure of every operation is reported together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")  # inside schemathesis
async def test_generated_requests_never_get_a_5xx_or_an_answer_the_document_does_not_describe(api: Api) -> None:
    world: World = await build_world(api)
    status, spec = await api.call("GET", "/openapi.json", "")
    assert status == 200
    started = time.monotonic()
    failures = await asyncio.to_thread(fuzz, spec, api.base, world.tokens["alice"], world.objects["alice"])
    assert not failures, "\n\n".join(failures)
    assert time.monotonic() - started < 90
