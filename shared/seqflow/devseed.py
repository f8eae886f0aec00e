"""Demo data for `seqflow dev --demo`: users, a template and a running sequence whose call tasks are due now.

Everything goes through the public HTTP API, as a person with the admin token would do it, so the demo
shows exactly what the product does. `seed` returns what the console prints: the sign-in token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from seqflow.demo import Api

RECRUITER = {"id": "alice", "name": "Alice Recruiter", "email": "alice@agency.example",
             "permissions": ["sequences:activate", "tasks:mine"]}  # fmt: skip
TEAMMATE = {"id": "bob", "name": "Bob Sourcer", "email": "bob@agency.example", "permissions": ["tasks:mine"]}
PEOPLE = [
    ("Ada", "Lovelace", "Analytical Engines", "Staff Engineer"), ("Grace", "Hopper", "Compiler Works", "Architect"),
    ("Alan", "Turing", "Bletchley Labs", "Research Engineer"), ("Katherine", "Johnson", "Orbit Co", "Data Scientist"),
    ("Linus", "Torvalds", "Kernel Ltd", "Principal Engineer"), ("Margaret", "Hamilton", "Apollo Systems", "Lead"),
    ("Guido", "van Rossum", "Snake Corp", "Python Developer"), ("Barbara", "Liskov", "Substitution Inc", "CTO"),
    ("Dennis", "Ritchie", "Bell Works", "Systems Engineer"), ("Frances", "Allen", "Optimising Ltd", "Engineer"),
    ("Edsger", "Dijkstra", "Shortest Path BV", "Backend Engineer"), ("Radia", "Perlman", "Spanning Tree", "SRE"),
]  # fmt: skip
TEMPLATE: dict[str, Any] = {
    "name": "Senior Python outreach", "owner": "alice",
    "branches": [
        {"key": "main", "steps": [
            {"key": "call", "type": "call", "priority": "high", "instructions": "Ask about notice period and salary",
             "script": "Hi {{first_name}}, this is {{user.name}} from the agency. I saw your work at {{company}} "
                       "and have a senior Python role you might like. Do you have two minutes?",
             "conditions": [{"when": "Connected", "then": {"goto_branch": "engaged"}},
                            {"when": "Left voicemail", "then": {"next": True}},
                            {"when": "Not interested", "then": {"exit": "not_interested"}}]},
            {"key": "email", "type": "manual_email",
             "email": {"from_alias": "alice@agency.example", "subject": "A senior Python role for {{first_name}}",
                       "body": "Hi {{first_name}},\n\nI tried to call you earlier. Would you be open to a short "
                               "chat about a senior Python role?\n\n{{user.name}}"}},
            {"key": "nudge", "type": "auto_sms", "delay": "P2D",
             "sms": {"body": "Hi {{first_name}}, {{user.name}} here - did you see my email?"}}]},
        {"key": "engaged", "steps": [
            {"key": "book", "type": "task", "instructions": "Book a screening call with the hiring manager"}]},
    ],
}  # fmt: skip


@dataclass(frozen=True)
class Seeded:
    user: str
    token: str
    sequence: str
    contacts: int


def contacts() -> list[dict[str, Any]]:
    return [{"id": f"demo-{i:02d}", "first_name": first, "last_name": last, "company": company, "title": title,
             "email": f"{first.lower()}@candidates.example", "phone": f"+1555010{i:04d}",
             "custom": {"linkedin": f"https://www.linkedin.com/in/{first.lower()}-{last.lower().replace(' ', '')}"},
             "resume": f"{first} {last}: {title} at {company}. Python, distributed systems, mentoring."}
            for i, (first, last, company, title) in enumerate(PEOPLE)]  # fmt: skip


async def create_user(admin: Api, user: dict[str, Any]) -> str:
    """The new user's token. A server that generates tokens answers with it; one that wants the token from
    the caller refuses the first request naming `token`, and gets `<id>-demo-token`."""
    answer = await admin.call("POST", "/users", user, ok=(201, 422))
    if answer.get("field") == "token":
        answer = await admin.call("POST", "/users", {**user, "token": f"{user['id']}-demo-token"})
        return str(answer.get("token") or f"{user['id']}-demo-token")
    if "error" in answer:
        raise RuntimeError(f"POST /users → 422: {answer}")
    return str(answer["token"])


async def seed(base: str, admin_token: str) -> Seeded:
    async with aiohttp.ClientSession() as http:
        admin = Api(http, base, admin_token)
        token = await create_user(admin, RECRUITER)
        await create_user(admin, TEAMMATE)
        alice = Api(http, base, token)
        template = await alice.call("POST", "/templates", TEMPLATE)
        rollup = await alice.call("POST", "/rollups", {"name": "Senior Python candidates"})
        await alice.call("POST", f"/rollups/{rollup['id']}/members", {"contacts": contacts()})
        seq = await alice.call("POST", "/sequences", {
            "name": "Python Q4 – Alice", "template_id": template["id"],
            "rollup_id": rollup["id"], "begin": datetime.now(UTC).date().isoformat(), "timezone": "UTC",
            "primary_user": "alice", "team_members": ["bob"]})  # fmt: skip
    return Seeded(RECRUITER["id"], token, str(seq["id"]), len(PEOPLE))
