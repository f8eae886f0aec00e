"""A small world for permission tests: alice and carol each own a template, a rollup with one contact and a
sequence with open tasks (a call, and two manual emails: one to draft and send, one to mark as sent), plus two
spare contacts on the rollup that only erasure touches; bob is on alice's team; dave has no permission at all;
plus the admin."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from seqflow.messaging.base import ContactData
from seqflow.messaging.rollup import MemberAdded
from seqflow.messaging.topics import ROLLUP_MEMBERSHIP
from seqflow.messaging.work import EnrollmentChanged, TaskDue
from support.tasks_service import ADMIN, NOW, Api, add_user, wait_for

OWNER = ["sequences:activate", "tasks:mine"]
USERS: dict[str, list[str]] = {"alice": OWNER, "bob": ["tasks:mine"], "carol": OWNER, "dave": []}
TEMPLATE: dict[str, Any] = {
    "name": "Outreach", "owner": "alice",
    "branches": [{"key": "main", "steps": [
        {"key": "intro", "type": "auto_email",
         "email": {"from_alias": "x@agency.example", "subject": "Hi", "body": "Hello"}},
        {"key": "call", "type": "call", "instructions": "Ask",
         "conditions": [{"when": "Connected", "then": {"next": True}}]},
        {"key": "write", "type": "manual_email",
         "email": {"from_alias": "x@agency.example", "subject": "Hi {{first_name}}", "body": "Dear {{first_name}}"}},
        {"key": "jot", "type": "manual_email",
         "email": {"from_alias": "x@agency.example", "subject": "Again", "body": "Hello again"}}]}],
}  # fmt: skip
TASK_STEPS = {"task": ("call", "call"), "email_task": ("write", "manual_email"), "jot_task": ("jot", "manual_email")}
ERASERS = ("admin", "owner")  # who may erase a spare contact: each gets their own, so both can succeed


def template(owner: str) -> dict[str, Any]:
    body = copy.deepcopy(TEMPLATE)
    body["owner"] = owner
    for step in body["branches"][0]["steps"]:
        if "email" in step:
            step["email"]["from_alias"] = f"{owner}@agency.example"
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
    spares = {who: f"{owner}-spare-{who}" for who in ERASERS}
    members = {"contacts": [{"id": cid, "first_name": owner.title(), "email": f"{cid}@x.example"}
                            for cid in (contact, *spares.values())]}  # fmt: skip
    await world.call(owner, "POST", f"/rollups/{rollup['id']}/members", members)
    for spare in members["contacts"][1:]:  # as rollup-sync would confirm them: an erasure need not wait for it
        await world.api.produce(ROLLUP_MEMBERSHIP, "member_added", spare["id"], MemberAdded(
            rollup_id=rollup["id"], contact=ContactData.model_validate(spare), at=NOW))  # fmt: skip
    world.objects[owner] = {"template": tpl["id"], "rollup": rollup["id"], "contact": contact,
                            **{f"spare_{who}": cid for who, cid in spares.items()}}  # fmt: skip
    status, seq = await world.call(owner, "POST", "/sequences", world.activation(owner, f"{owner}'s sequence"))
    assert status == 201, seq
    sid = seq["id"]
    world.objects[owner]["sequence"] = sid
    await world.api.produce("enrollment.changes", "enrollment_changed", f"{sid}:{contact}", EnrollmentChanged(
        sequence_id=sid, contact_id=contact, action="entered", step="call", at=seq["activated_at"], status="active",
        phase="due", steps_done=1))  # fmt: skip
    for index, (step, kind) in enumerate(TASK_STEPS.values(), start=1):
        await world.api.produce("scheduler.due-tasks", "task_due", f"{sid}:{contact}", TaskDue(
            sequence_id=sid, contact_id=contact, step=step, attempt=1, kind="task", type=kind, priority="high",
            branch="main", step_index=index, outcomes=["Connected"] if kind == "call" else ["Done"],
            at=seq["activated_at"]))  # fmt: skip

    async def tasks_listed() -> Any:
        _, body = await world.call(owner, "GET", f"/tasks?sequence={sid}")
        _, queue = await world.call(owner, "GET", f"/queue?sequence={sid}")
        _, listed = await world.call(owner, "GET", f"/rollups/{rollup['id']}")
        found = {t["step"]: str(t["id"]) for t in body["tasks"]}
        confirmed = len(listed["members"]) == len(spares)
        return queue["count"] and confirmed and len(found) == len(TASK_STEPS) and found

    found = await wait_for(tasks_listed)
    world.objects[owner].update({name: found[step] for name, (step, _) in TASK_STEPS.items()})
