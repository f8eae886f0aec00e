"""Geometry of the owner pages' drawings; the SVG itself is written by templates (autoescaped text).

`branch_map`: branches as lanes of step boxes, with an arrow for every goto. `bars`: stacked bars per day
(preview, sends over time). `funnel`: one horizontal bar per step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

BOX_W, BOX_H, GAP_X, LANE_H, LEFT, TOP = 124, 46, 40, 96, 110, 34


def branch_map(model: Mapping[str, Any]) -> dict[str, Any]:
    """Boxes per step, a line along each branch, and a curved arrow per goto_step / goto_branch."""
    at: dict[str, tuple[int, int]] = {}
    boxes, lanes = [], []
    for bi, b in enumerate(model.get("branches", [])):
        y = TOP + bi * LANE_H
        lanes.append({"y": y + BOX_H // 2, "key": b.get("key", ""), "x2": LEFT + len(b["steps"]) * (BOX_W + GAP_X)})
        for si, s in enumerate(b["steps"]):
            x = LEFT + si * (BOX_W + GAP_X)
            at[s.get("key", "")] = (x, y)
            boxes.append({"x": x, "y": y, "key": s.get("key", ""), "type": s.get("type", "").replace("_", " ")})
    first = {b.get("key", ""): b["steps"][0].get("key", "") for b in model.get("branches", []) if b["steps"]}
    arrows = [a for b in model.get("branches", []) for s in b["steps"] for a in _gotos(s, at, first)]
    width = max([LEFT + BOX_W + 20] + [lane["x2"] for lane in lanes])
    return {"width": width, "height": TOP + len(lanes) * LANE_H, "boxes": boxes, "lanes": lanes, "arrows": arrows}


def _gotos(step: Mapping[str, Any], at: Mapping[str, tuple[int, int]], first: Mapping[str, str]) -> list[dict]:
    out = []
    for c in step.get("conditions", []):
        kind, target = c.get("then_kind"), c.get("then_target", "")
        dest = target if kind == "goto_step" else first.get(target) if kind == "goto_branch" else None
        if dest in at and step.get("key") in at:
            out.append({"d": _curve(at[step["key"]], at[dest]), "label": c.get("when", ""), "kind": kind,
                        "source": step["key"], "target": dest})  # fmt: skip
    return out


def _curve(src: tuple[int, int], dst: tuple[int, int]) -> str:
    """From the source box's bottom to the target box's top (or, on the same lane, an arc below both)."""
    (sx, sy), (tx, ty) = src, dst
    x1, x2 = sx + BOX_W // 2, tx + BOX_W // 2
    if sy == ty:
        y = sy + BOX_H
        return f"M{x1},{y} C{x1},{y + 34} {x2},{y + 34} {x2},{y + 4}"
    y1, y2 = (sy + BOX_H, ty - 4) if ty > sy else (sy, ty + BOX_H + 4)
    mid = (y1 + y2) // 2
    return f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"


def every_day(days: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The days from the first to the last, a quiet day as an empty one, so the axis is honest about time."""
    if not days:
        return []
    given = {d["day"]: d for d in days}
    first, last = date.fromisoformat(min(given)), date.fromisoformat(max(given))
    span = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [given.get(d.isoformat(), {"day": d.isoformat()}) for d in span]


def bars(days: Sequence[Mapping[str, Any]], kinds: Sequence[str], height: int = 180) -> dict[str, Any]:
    """Stacked bars, one per day, one segment per kind with a count; every segment carries its numbers."""
    days = every_day(days)
    top = max([sum(int(d.get(k, 0)) for k in kinds) for d in days] + [1])
    step = max(8, min(44, 760 // max(len(days), 1)))
    label_every = max(1, len(days) // 12)
    columns = []
    for i, d in enumerate(days):
        y, parts = height, []
        for k in kinds:
            n = int(d.get(k, 0))
            h = round(n * (height - 10) / top)
            if n:
                y -= h
                parts.append({"kind": k, "count": n, "y": y, "h": max(h, 1)})
        columns.append({"x": 40 + i * step, "w": step - 2, "day": d["day"], "parts": parts,
                        "label": d["day"][5:] if i % label_every == 0 else ""})  # fmt: skip
    return {"width": 60 + len(days) * step, "height": height + 30, "base": height, "top": top, "columns": columns,
            "kinds": list(kinds)}  # fmt: skip


def funnel(conversion: Sequence[Mapping[str, Any]], width: int = 320) -> dict[str, Any]:
    """One bar per step, as long as the share of entered contacts that got past it."""
    rows = [{"step": c["step"], "pct": c["pct_of_entered"], "finished": c["finished"], "y": 6 + i * 26,
             "w": round(float(c["pct_of_entered"]) * width / 100)} for i, c in enumerate(conversion)]  # fmt: skip
    return {"width": width + 170, "height": 12 + len(rows) * 26, "rows": rows, "bar_x": 110}
