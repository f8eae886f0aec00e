"""The OpenAPI document declares what the server does, and OPTIONS tells the truth (issue 10, item 4)."""

from __future__ import annotations

from support.tasks_service import Api

from seqflow_tasks.api.registry import ROUTES


async def test_options_lists_exactly_the_methods_registered_on_a_path(api: Api) -> None:
    for path, allowed in (("/templates/abc", "GET, OPTIONS, PUT"), ("/tasks/1", "GET, OPTIONS"),
                          ("/t/u/x", "GET, OPTIONS, POST"), ("/users/bob/token", "DELETE, OPTIONS, POST")):  # fmt: skip
        async with api.session.options(api.base + path) as r:
            assert (r.status, r.headers["Allow"]) == (204, allowed), path
    async with api.session.delete(api.base + "/tasks/1") as r:
        assert r.status == 405


async def test_the_document_declares_bodies_headers_constraints_and_every_error_status(api: Api) -> None:
    status, spec = await api.call("GET", "/openapi.json", "")
    assert status == 200
    sms = spec["paths"]["/webhooks/sms"]["post"]
    form = sms["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"From", "Body"} <= set(spec["components"]["schemas"][form]["properties"])
    assert [p["name"] for p in sms["parameters"]] == ["X-Twilio-Signature"]
    email = spec["paths"]["/webhooks/email"]["post"]
    assert {p["name"] for p in email["parameters"]} == {"X-Seqflow-Timestamp", "X-Seqflow-Signature"}
    assert {"401", "415", "422"} <= set(email["responses"])
    limit = spec["components"]["schemas"]["RateLimit"]["properties"]["count"]
    assert (limit["minimum"], limit["maximum"]) == (1, 1_000_000)
    compare = spec["paths"]["/metrics/compare"]["get"]["parameters"]
    assert compare[0]["name"] == "sequence" and compare[0]["required"] is True
    for r in ROUTES:
        op = spec["paths"][r.path][r.method.lower()]
        assert str(r.status) in op["responses"] and "400" in op["responses"], (r.method, r.path)
        if r.auth:
            assert {"401", "403"} <= set(op["responses"]) and op["security"] == [{"bearer": []}], (r.method, r.path)
