"""A small world for permission tests: alice and carol each own a template, a rollup with one contact and a
sequence with one open task; bob is on alice's team; dave has no permission at all; plus the admin."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from seqflow.messaging.work import EnrollmentChanged, TaskDue
from support.tasks_service import ADMIN, Api, add_user, wait_for

OWNER = ["sequences:activate", "tasks:mine"]
USERS: dict[str, list[str]] = {"alice": OWNER, "bob": ["tasks:mine"], "carol": OWNER, "dave": []}
TEMPLATE: dict[str, Any] = {
    "name": "Outreach", "owner": "alice",
    "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "x@agency.example", "subject": "Hi", "body": "Hello"}},
        {"key": "call", "type": "call", "instructions": "Ask",
         "conditions": [{"when": "Connected", "then": {"complete": True}}]}]}],
}  # fmt: skip


def template(owner: str) -> dict[str, Any]:
    body = copy.deepcopy(TEMPLATE)
    body["owner"] = owner
    body["branches"][0]["steps"][0]["email"]["from_alias"] = f"{owner}@agency.example"
    return body


@dataclass
class World:
    api: Api
    tokens: dict[str, str] = field(default_factory=lambda: {"admin": ADMIN})
    objects: dict[str, dict[str, str]] = field(default_factory=dict)

    async def call(self, user: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await self.api.call(method, path, self.tokens[user], json=body)

    def activation(self, owner: str, name: str) -> dict[str, Any]:
        o = self.objects[owner]
        team = ["bob"] if owner == "alice" else []
        return {"name": name, "template_id": o["template"], "rollup_id": o["rollup"], "begin": "2026-12-01",
                "timezone": "UTC", "primary_user": owner, "team_members": team}  # fmt: skip


async def build_world(api: Api) -> World:
    world = World(api)
    for uid, perms in USERS.items():
        world.tokens[uid] = await add_user(api, uid, perms)
    for owner in ("alice", "carol"):
        await _owned_objects(world, owner)
    return world


async def _owned_objects(world: World, owner: str) -> None:
    contact = f"{owner}-contact"
    _, tpl = await world.call(owner, "POST", "/templates", template(owner))
    _, rollup = await world.call(owner, "POST", "/rollups", {"name": f"{owner}'s list"})
    members = {"contacts": [{"id": contact, "first_name": owner.title(), "email": f"{contact}@x.example"}]}
    await world.call(owner, "POST", f"/rollups/{rollup['id']}/members", members)
    world.objects[owner] = {"template": tpl["id"], "rollup": rollup["id"], "contact": contact}
    status, seq = await world.call(owner, "POST", "/sequences", world.activation(owner, f"{owner}'s sequence"))
    assert status == 201, seq
    sid = seq["id"]
    world.objects[owner]["sequence"] = sid
    await world.api.produce("enrollment.changes", "enrollment_changed", f"{sid}:{contact}", EnrollmentChanged(
        sequence_id=sid, contact_id=contact, action="entered", step="call", at=seq["activated_at"], status="active",
        phase="due", steps_done=1))  # fmt: skip
    await world.api.produce("scheduler.due-tasks", "task_due", f"{sid}:{contact}", TaskDue(
        sequence_id=sid, contact_id=contact, step="call", attempt=1, kind="task", type="call", priority="high",
        branch="main", step_index=1, outcomes=["Connected"], at=seq["activated_at"]))  # fmt: skip

    async def task_listed() -> Any:
        _, body = await world.call(owner, "GET", f"/tasks?sequence={sid}")
        _, queue = await world.call(owner, "GET", f"/queue?sequence={sid}")
        return body["tasks"] and queue["count"] and body["tasks"][0]["id"]

    world.objects[owner]["task"] = str(await wait_for(task_listed))
