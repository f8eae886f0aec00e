"""The live services and `seqflow simulate` agree: same contact, step, action and time, per scenario.

Each scenario of `agreement_scenarios` runs twice: through `seqflow simulate` (a subprocess, the real
CLI) and through the four services on the file clock, its events played through the HTTP API at their
instants. The live actions are read from `enrollment.changes`, which the scheduler publishes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from agreement_scenarios import SCENARIOS
from support.api import Api, eventually, make_user
from support.kafka import Collector

from seqflow.channels.tracking import open_pixel_url
from seqflow.clock import FileClock, set_file_clock
from seqflow.rules.state import VISIBLE
from seqflow.stack import Stack

SECRET = b"dev-tracking-secret"
Line = tuple[str, str, str, str]


def simulate(sc: dict[str, Any], tmp: Path) -> list[Line]:
    path = tmp / f"{sc['name']}.json"
    body = {k: v for k, v in sc.items() if k != "name"}
    body["activation"] = {**sc["activation"], "name": sc["name"]}
    path.write_text(json.dumps(body))
    out = subprocess.run([sys.executable, "-m", "seqflow", "simulate", str(path)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return [(d["at"], d["contact"], d["step"], d["action"]) for d in map(json.loads, out.stdout.splitlines())]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Live:
    """Plays one scenario through the API and waits, at each instant, until the scheduler is done."""

    def __init__(self, stack: Stack, api: Api, db: asyncpg.Connection, clock: Path, changes: Collector,
                 results: Collector) -> None:  # fmt: skip
        self.stack, self.api, self.db, self.clock = stack, api, db, clock
        self.changes, self.results = changes, results
        self.s = f"{stack.schema_prefix}scheduler"
        self.sid = self.rollup = ""
        self.applied = 0

    async def quiet(self, now: datetime) -> None:
        """Nothing due at or before `now`, nothing in the inbox, the outbox published."""

        async def probe() -> bool:
            row = await self.db.fetchrow(
                f"SELECT (wake_at IS NULL OR wake_at > $2) AS idle, inputs_applied, "
                f"(SELECT count(*) FROM {self.s}.inbox WHERE sequence_id = $1) AS inbox, "
                f"(SELECT count(*) FROM {self.s}.outbox) AS outbox FROM {self.s}.sequences WHERE id = $1",
                self.sid, now,
            )  # fmt: skip
            return bool(row and row["idle"] and row["inbox"] == 0 and row["outbox"] == 0
                        and row["inputs_applied"] >= self.applied)  # fmt: skip

        await eventually(probe, bool, f"scheduler quiet at {now}", 30)

    async def start(self, sc: dict[str, Any]) -> None:
        set_file_clock(self.clock, at(sc["activated_at"]))
        template = await self.api.ok("POST", "/templates", sc["template"])
        self.rollup = (await self.api.ok("POST", "/rollups", {"name": f"{sc['name']}-{uuid.uuid4().hex[:6]}"}))["id"]
        await self.api.ok("POST", f"/rollups/{self.rollup}/members", {"contacts": sc["contacts"]})
        n = len(sc["contacts"])
        # No wait for the membership events here: the activation names its roster and the scheduler
        # starts the sequence only once they have all arrived (the same-instant race this guards).
        body = {**sc["activation"], "name": f"{sc['name']}-{uuid.uuid4().hex[:6]}",
                "template_id": template["id"], "rollup_id": self.rollup}  # fmt: skip
        self.sid = (await self.api.ok("POST", "/sequences", body))["id"]
        await eventually(lambda: self.db.fetchval(
            f"SELECT count(*) FROM {self.s}.enrollments WHERE sequence_id = $1", self.sid),
            lambda c: c == n, "every contact enrolled")  # fmt: skip
        self.applied = await self.db.fetchval(f"SELECT inputs_applied FROM {self.s}.sequences WHERE id = $1", self.sid)
        await self.quiet(at(sc["activated_at"]))

    async def play(self, ev: dict[str, Any], later: dict[str, dict[str, Any]]) -> None:
        when = at(ev["at"])
        set_file_clock(self.clock, when)
        await self.quiet(when)
        self.applied += await self.perform(ev, later)
        await self.quiet(when)

    async def perform(self, ev: dict[str, Any], later: dict[str, dict[str, Any]]) -> int:
        """Do what the event says through the API; the number of scheduler inputs it causes."""
        kind, cid, sid = ev["type"], ev.get("contact"), self.sid
        if kind in ("pause", "resume", "end"):
            return await self.call("POST", f"/sequences/{sid}/{kind}")
        if kind in ("move_next", "retry"):
            return await self.patient("POST", f"/sequences/{sid}/enrollments/{cid}/{kind.replace('_', '-')}")
        if kind == "remove_from_sequence":
            return await self.call("POST", f"/sequences/{sid}/enrollments/{cid}/remove-from-sequence")
        if kind == "member_removed":
            return await self.call("DELETE", f"/rollups/{self.rollup}/members/{cid}")
        if kind == "member_added":
            body = {"contacts": [later[cid]]} if cid in later else {"contact_ids": [cid]}
            return await self.call("POST", f"/rollups/{self.rollup}/members", body)
        if kind == "contact_updated":
            return await self.call("PATCH", f"/contacts/{cid}", ev["fields"])
        if kind == "outcome":
            return await self.mark(cid, ev["step"], ev["outcome"])
        return await self.engage(kind, cid, ev["step"])

    async def call(self, method: str, path: str, body: Any = None) -> int:
        status, data = await self.api.request(method, path, body)
        assert status in (200, 201, 202, 409), f"{method} {path} → {status} {data}"
        return 1 if status < 300 else 0

    async def patient(self, method: str, path: str) -> int:
        """An action the API checks against its read model, which trails the scheduler by a moment:
        retried while refused (409) for a few seconds; still refused = no input, as the simulator ignores it."""
        try:
            status, _ = await eventually(lambda: self.api.request(method, path), lambda r: r[0] != 409, path, 5)
        except AssertionError:
            return 0
        assert status == 202, f"{method} {path} → {status}"
        return 1

    async def mark(self, cid: str, step: str, outcome: str) -> int:
        """Mark the task once the task list shows it (the read model trails the scheduler by a moment);
        a task that never shows, or a refused mark, causes no input — as the simulator ignores it."""

        async def attempt() -> int | None:
            tasks = (await self.api.ok("GET", f"/tasks?sequence={self.sid}"))["tasks"]
            task = next((t for t in tasks if t["contact_id"] == cid and t["step"] == step), None)
            if task is None:
                return None
            status, _ = await self.api.request("POST", f"/tasks/{task['id']}/mark", {"outcome": outcome})
            return 1 if status == 200 else None

        try:
            return int(await eventually(attempt, lambda r: r is not None, f"mark {cid} {step}", 5))
        except AssertionError:
            return 0

    async def engage(self, kind: str, cid: str, step: str) -> int:
        sent = await eventually(lambda: _async(self.results.of("send_result", sequence_id=self.sid, contact_id=cid,
                                                               step=step)), bool, f"{cid} {step} sent")  # fmt: skip
        mid = sent[-1].payload["message_id"]
        if kind == "opened":
            async with self.api.http.get(open_pixel_url(self.stack.api, SECRET, mid)) as r:
                return 1 if r.status == 200 else 0
        body = {"type": kind, "message_id": mid}
        # The tasks service learns the Message-ID from dispatch.results too; it may be a moment behind us.
        status, _ = await eventually(lambda: self.api.email_webhook(body, FileClock(self.clock).now()),
                                     lambda r: r[0] != 404, "the tasks service knows the message", 20)  # fmt: skip
        assert status == 202
        return 1

    def lines(self, until: datetime) -> list[Line]:
        mine = [e.payload for e in self.changes.of("enrollment_changed", sequence_id=self.sid)]
        found = {(p["at"].replace("+00:00", "Z"), p["contact_id"], p["step"], p["action"])
                 for p in mine if p["action"] in VISIBLE and at(p["at"]) <= until}  # fmt: skip
        return sorted(found)


async def _async(value: Any) -> Any:
    return value


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("agreement")
    clock = root / "clock"
    set_file_clock(clock, at(SCENARIOS[0]["activated_at"]))
    with Stack(root / "stack", database_url=pg_dsn, schema_prefix=f"a{uuid.uuid4().hex[:8]}_",
               clock=f"file:{clock}", tick_seconds=0.1, drop_schemas_on_close=True) as s:  # fmt: skip
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live_deps(stack: Stack) -> AsyncIterator[tuple[Api, asyncpg.Connection, Collector, Collector]]:
    await stack.wait_ready()
    topics = stack.topic_prefix
    changes = await Collector(stack.broker.bootstrap, f"{topics}enrollment.changes").start()  # type: ignore[union-attr]
    results = await Collector(stack.broker.bootstrap, f"{topics}dispatch.results").start()  # type: ignore[union-attr]
    db = await asyncpg.connect(stack.dsn)
    async with aiohttp.ClientSession() as http:
        api = Api(http, stack.api)
        yield await make_user(api, "alice"), db, changes, results
    await db.close()
    await changes.stop()
    await results.stop()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_live_services_and_the_simulator_agree(
    scenario: dict[str, Any], stack: Stack, live_deps: Any, tmp_path: Path
) -> None:
    api, db, changes, results = live_deps
    expected = simulate(scenario, tmp_path)
    live = Live(stack, api, db, stack.workdir.parent / "clock", changes, results)
    await live.start(scenario)
    later = {c["id"]: c for c in scenario.get("later_contacts", [])}
    for ev in sorted(scenario["events"], key=lambda e: e["at"]):
        await live.play(ev, later)
    until = at(scenario["until"])
    set_file_clock(live.clock, until)
    await live.quiet(until)
    got = await eventually(lambda: _async(live.lines(until)), lambda g: len(g) >= len(expected),
                           "the live actions", 20)  # fmt: skip
    assert got == expected
