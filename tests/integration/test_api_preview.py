"""The sequence owner's API (issue 9): preview, rollup lists, CSV import and results, on a real tasks service.

Each route is tried by a user who may (alice: sequences:activate) and one who may not (tom: tasks:mine).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.api import ADMIN_TOKEN, Api, eventually, make_user
from support.kafka import produce
from support.services import service_env, started

from seqflow.clock import FileClock
from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.messaging.dispatch import SendResult
from seqflow.messaging.work import EnrollmentChanged
from seqflow.rules.preview import scenario_for
from seqflow.rules.simulate import run
from seqflow.service import SeqflowApp
from seqflow.settings import Settings
from seqflow_tasks.app import create_app

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
MAIL = {"from_alias": "alice@agency.example", "subject": "Hi", "body": "Hello"}
TEMPLATE = {"name": "Outreach", "owner": "alice", "branches": [{"key": "main", "steps": [
    {"key": "intro", "type": "auto_email", "email": MAIL},
    {"key": "bump", "type": "auto_sms", "delay": "P1D", "sms": {"body": "Hi"}},
    {"key": "call", "type": "call", "delay": "P1D"}]}]}  # fmt: skip
CONTACTS = [{"id": "c1", "email": "c1@x.example", "phone": "+15550001"},
            {"id": "c2", "email": "c2@x.example"},
            {"id": "c3", "phone": "+15550003"}]  # fmt: skip
SETTINGS = {"begin": "2026-12-01", "timezone": "America/New_York", "primary_user": "alice",
            "send_days": ["mon", "tue", "wed", "thu", "fri"], "send_window": {"start": "08:00", "stop": "17:00"},
            "rate_limits": {"email": {"count": 1, "per": "PT1H"}}}  # fmt: skip


@pytest.fixture
async def tasks(broker: str, pg_dsn: str, schema_prefix: str, topic_prefix: str, file_clock: FileClock,
                tmp_path: Path) -> AsyncIterator[SeqflowApp]:  # fmt: skip
    env = service_env(broker, topic_prefix, pg_dsn, schema_prefix, tmp_path, file_clock)
    async with started(create_app(Settings.from_env("tasks", {**env, "SEQFLOW_ADMIN_TOKEN": ADMIN_TOKEN})),
                       wait_ready=True) as app:  # fmt: skip
        yield app


@pytest.fixture
async def admin(tasks: SeqflowApp) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, f"http://127.0.0.1:{tasks.settings.web_port}")


async def publish(app: SeqflowApp, topic: str, type_: str, payloads: list[Any]) -> None:
    """What another service would publish to the tasks service: keyed by sequence and contact."""
    items = [(type_, f"{p.sequence_id}:{p.contact_id}", p, NOW) for p in payloads]
    await produce(app.settings.kafka_bootstrap, app.topic_names.name(topic), items)


async def world(admin: Api) -> tuple[Api, Api, str, str]:
    """alice may activate, tom may not; a template and a rollup holding CONTACTS."""
    alice = await make_user(admin, "alice")
    tom = await make_user(admin, "tom", ("tasks:mine",))
    template = await alice.ok("POST", "/templates", TEMPLATE)
    rollup = await alice.ok("POST", "/rollups", {"name": "Q4"})
    await alice.ok("POST", f"/rollups/{rollup['id']}/members", {"contacts": CONTACTS})
    return alice, tom, template["id"], rollup["id"]


def form(template_id: str, rollup_id: str, **over: Any) -> dict[str, Any]:
    return {**SETTINGS, "template_id": template_id, "rollup_id": rollup_id, **over}


async def test_a_preview_adds_up_what_the_simulator_does_on_the_rollups_contacts_and_changes_nothing(
    admin: Api,
) -> None:
    alice, _, tid, rid = await world(admin)
    out = await alice.ok("POST", "/sequences/preview", form(tid, rid))
    sc = scenario_for(Template.model_validate(TEMPLATE), Activation.model_validate({**SETTINGS, "name": "x"}),
                      CONTACTS, NOW)  # fmt: skip
    simulated = Counter(a.action for a in run(sc)[0])
    assert out["totals"]["email"] == simulated["email_sent"] == 2
    assert out["totals"]["sms"] == simulated["sms_sent"] == 1
    assert out["totals"]["task"] == simulated["task_due"] == 1 and out["totals"]["failed"] == 2
    assert [(f["contact"], f["channel"]) for f in out["blank_addresses"]] == [("c3", "email"), ("c2", "sms")]
    assert out["rate_limited"]["email"]["sends"] == 1 and out["rate_limited"]["email"]["longest_seconds"] == 3600
    assert out["in_progress"] == 3 and out["contacts"] == 3
    assert (await alice.ok("GET", "/sequences"))["sequences"] == []


async def test_a_preview_is_refused_without_activate_and_names_the_bad_field(admin: Api) -> None:
    alice, tom, tid, rid = await world(admin)
    assert (await tom.request("POST", "/sequences/preview", form(tid, rid)))[0] == 403
    for body, expected in ((form("", rid), (422, "template_id")), (form(tid, "nope"), (404, "rollup_id")),
                           (form(tid, rid, timezone="Mars/Base"), (422, "timezone")),
                           (form(tid, rid, horizon_days=0), (422, "horizon_days"))):  # fmt: skip
        status, err = await alice.request("POST", "/sequences/preview", body)
        assert (status, err["field"]) == expected, err


async def test_rollup_lists_show_their_size_and_each_members_sequence_and_step(tasks: SeqflowApp, admin: Api) -> None:
    alice, tom, tid, rid = await world(admin)
    assert (await alice.ok("GET", "/rollups"))["rollups"][0] | {"created_at": None} == {
        "id": rid, "name": "Q4", "members": 3, "sequence": None, "created_at": None}  # fmt: skip
    seq = await alice.ok("POST", "/sequences", form(tid, rid, name="Q4 run", rewrite_aliases=True))
    entered = EnrollmentChanged(sequence_id=seq["id"], contact_id="c1", action="entered", step="intro", at=NOW,
                                status="active", phase="due")  # fmt: skip
    await publish(tasks, "enrollment.changes", "enrollment_changed", [entered])

    def on_intro(body: Any) -> bool:
        return any(m["step"] == "intro" for m in body["members"])

    body = await eventually(lambda: alice.ok("GET", f"/rollups/{rid}/members"), on_intro, "c1 on intro")
    c1 = next(m for m in body["members"] if m["contact_id"] == "c1")
    assert (c1["sequence"], c1["status"], c1["on_rollup"], c1["contact"]["email"]) == (
        "Q4 run", "active", True, "c1@x.example")  # fmt: skip
    assert (await alice.ok("GET", "/rollups"))["rollups"][0]["sequence"] == "Q4 run"
    assert (await tom.request("GET", "/rollups"))[0] == 403
    assert (await tom.request("GET", f"/rollups/{rid}/members"))[0] == 403


async def test_a_csv_import_adds_the_good_rows_and_reports_the_bad_ones_by_row_and_field(admin: Api) -> None:
    alice, tom, _, rid = await world(admin)
    text = "id,first_name,email,team\nn1,Ann,ann@x.example,red\n,Bob,bob@x.example,blue\nn3,Cy,cy@x.example\n"
    first = await alice.ok("POST", f"/rollups/{rid}/import", {"csv": text, "limit": 2})
    assert first == {"total": 3, "next": 2, "added": 1,
                     "errors": [{"row": 2, "field": "id", "error": "Field required"}]}  # fmt: skip
    rest = await alice.ok("POST", f"/rollups/{rid}/import", {"csv": text, "offset": 2})
    assert (rest["next"], rest["added"], rest["errors"]) == (3, 1, [])
    members = {m["contact_id"]: m for m in (await alice.ok("GET", f"/rollups/{rid}/members"))["members"]}
    assert {"n1", "n3"} <= set(members) and members["n1"]["contact"]["custom"] == {"team": "red"}
    status, err = await alice.request("POST", f"/rollups/{rid}/import", {"csv": "name,email\nx,y\n"})
    assert (status, err["field"]) == (422, "csv")
    assert (await tom.request("POST", f"/rollups/{rid}/import", {"csv": text}))[0] == 403


async def test_sends_over_time_and_the_compare_table_as_csv(tasks: SeqflowApp, admin: Api) -> None:
    alice, tom, tid, rid = await world(admin)
    seq = await alice.ok("POST", "/sequences", form(tid, rid, name="Q4 run", rewrite_aliases=True))
    sid = seq["id"]
    sent = [SendResult(sequence_id=sid, contact_id=c, step="intro", attempt=1, channel="email",
                       idempotency_key=f"{sid}:{c}:intro:1", status="sent", message_id=f"<m-{c}@x>",
                       to=f"{c}@x.example", at=NOW) for c in ("c1", "c2")]  # fmt: skip
    await publish(tasks, "dispatch.results", "send_result", sent)

    def two_sent(body: Any) -> bool:
        return body["sequences"][0]["sends_per_day"] == [{"day": "2026-12-01", "email": 2, "sms": 0}]

    found = await eventually(lambda: alice.ok("GET", f"/metrics/results?sequence={sid}"), two_sent, "2 emails sent")
    assert (found["sequences"][0]["emails_sent"], found["sequences"][0]["name"]) == (2, "Q4 run")
    async with alice.http.get(f"{alice.base}/metrics/compare.csv?sequence={sid}",
                              headers={"Authorization": f"Bearer {alice.token}"}) as r:  # fmt: skip
        assert (r.status, r.content_type) == (200, "text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        table = list(csv.DictReader(io.StringIO(await r.text())))
    assert [(t["name"], t["emails_sent"], t["state"]) for t in table] == [("Q4 run", "2", "active")]
    assert table[0]["conversion"].startswith("intro ")
    assert (await tom.request("GET", f"/metrics/results?sequence={sid}"))[0] == 403
    assert (await alice.request("GET", "/metrics/results?sequence=nope"))[0] == 404
    assert (await tom.request("GET", f"/metrics/compare.csv?sequence={sid}"))[0] == 403
