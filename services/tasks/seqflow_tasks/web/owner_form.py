"""The template editor's form ↔ the template JSON of SPEC §2, and where the API's 422 `field` is shown.

Every input is named by its JSON path (`branches[0].steps[1].email.subject`), so the form needs no script
to post; the page's script only renumbers names after steps or branches are added, moved or removed.
A condition's `then` is two inputs: `then_kind` (next, goto_step, goto_branch, complete, exit) and
`then_target` (the step, branch or exit reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

WHENS = ("opened", "clicked", "replied", "bounced", "no_condition_met")
THEN_KINDS = ("next", "goto_step", "goto_branch", "complete", "exit")
STEP_TYPES = ("auto_email", "auto_sms", "manual_email", "manual_sms", "call", "linkedin", "task")
EMAIL_TYPES, SMS_TYPES = ("auto_email", "manual_email"), ("auto_sms", "manual_sms")
STEP_FIELDS = ("key", "type", "delay", "priority", "instructions", "script")
NAME = re.compile(r"branches\[(\d+)\](?:\.steps\[(\d+)\](?:\.conditions\[(\d+)\])?)?\.([a-z_.]+)")


def template_from_form(form: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The template document the form describes (blank fields left out, so the API names what is missing)."""
    doc: dict[str, Any] = {}
    branches: dict[int, dict[str, Any]] = {}
    for name, value in form:
        if name in ("name", "owner"):
            doc[name] = value.strip()
        elif (m := NAME.fullmatch(name)) is not None and value.strip() != "":
            bi, si, ci, field = m.groups()
            branch = branches.setdefault(int(bi), {"steps": {}})
            target = branch if si is None else branch["steps"].setdefault(int(si), {"conditions": {}})
            target = target if ci is None else target["conditions"].setdefault(int(ci), {})
            target[field] = value if field in ("body", "script", "instructions") else value.strip()
    doc["branches"] = [_branch(branches[i]) for i in sorted(branches)]
    return doc


def _branch(raw: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in raw.items() if k != "steps"}
    return {**out, "steps": [_step(raw["steps"][i]) for i in sorted(raw["steps"])]}


def _step(raw: dict[str, Any]) -> dict[str, Any]:
    step = {k: raw[k] for k in STEP_FIELDS if k in raw}
    kind = step.get("type", "")
    email = {k.split(".", 1)[1]: v for k, v in raw.items() if k.startswith("email.")}
    if kind in EMAIL_TYPES and email:
        step["email"] = email
    if kind in SMS_TYPES and "sms.body" in raw:
        step["sms"] = {"body": raw["sms.body"]}
    conditions = [_condition(raw["conditions"][i]) for i in sorted(raw["conditions"])]
    if conditions:
        step["conditions"] = conditions
    return step


def _condition(raw: dict[str, str]) -> dict[str, Any]:
    kind = raw.get("then_kind", "next")
    target: Any = True if kind in ("next", "complete") else raw.get("then_target", "")
    cond: dict[str, Any] = {"when": raw.get("when", ""), "then": {kind: target}}
    if "within" in raw:
        cond["within"] = raw["within"]
    return cond


def form_model(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template as the editor draws it: each condition's `then` split into kind and target."""
    branches = []
    for b in template.get("branches", []):
        steps = [{**s, "conditions": [_split_then(c) for c in s.get("conditions", [])]} for s in b.get("steps", [])]
        branches.append({**b, "steps": steps})
    return {"name": template.get("name", ""), "owner": template.get("owner", ""), "branches": branches}


def _split_then(cond: Mapping[str, Any]) -> dict[str, Any]:
    then = cond.get("then") or {"next": True}
    kind = next(iter(then), "next")
    target = then[kind] if isinstance(then.get(kind), str) else ""
    return {**cond, "then_kind": kind, "then_target": target}


def field_paths(model: Mapping[str, Any]) -> list[str]:
    """Every path the editor has an input or a group for, in page order."""
    paths = ["name", "owner", "branches"]
    for bi, b in enumerate(model["branches"]):
        bp = f"branches[{bi}]"
        paths += [bp, f"{bp}.key", f"{bp}.steps"]
        for si, s in enumerate(b["steps"]):
            sp = f"{bp}.steps[{si}]"
            paths += [sp, *(f"{sp}.{f}" for f in (*STEP_FIELDS, "email", "sms", "conditions", "sms.body"))]
            paths += [f"{sp}.email.{f}" for f in ("from_alias", "subject", "body")]
            for ci in range(len(s["conditions"])):
                cp = f"{sp}.conditions[{ci}]"
                paths += [cp, f"{cp}.when", f"{cp}.within", f"{cp}.then_kind", f"{cp}.then_target"]
    return paths


def error_place(field: str | None, model: Mapping[str, Any]) -> str:
    """The input (or group) the API's 422 `field` is shown next to: the deepest one the path falls under.

    `….then.goto_step` (and goto_branch, exit) is the target input; any other `….then` the kind select."""
    if not field:
        return ""
    field = re.sub(r"\.then\.(goto_step|goto_branch|exit)$", ".then_target", field)
    field = re.sub(r"\.then(\..*)?$", ".then_kind", field)
    under = [p for p in field_paths(model) if field == p or field.startswith((p + ".", p + "["))]
    return max(under, key=len, default="")


def error_text(message: str, field: str | None) -> str:
    """The part of the API's message about `field` (it joins every issue as `path: what; path: what`)."""
    for part in message.split("; "):
        path, sep, what = part.partition(": ")
        if sep and path == field:
            return what
    return message
