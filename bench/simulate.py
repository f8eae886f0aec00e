"""Benchmark: N contacts through a 4-step automatic sequence with a rate limit, a send window and replies.

Prints contacts/s, wall time and peak memory of the simulator (the same engine as the scheduler).
Usage: .venv/bin/python bench/simulate.py [--contacts 100000] [--repeat 3] [--baseline SECONDS]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc
from typing import Any

from seqflow.rules.simulate import Scenario, run


def scenario(n: int) -> dict[str, Any]:
    email = {"from_alias": "a@x.example", "subject": "Hi {{first_name}}", "body": "Hello"}
    return {
        "template": {"name": "bench", "owner": "alice", "branches": [{"key": "main", "steps": [
            {"key": "intro", "type": "auto_email", "email": email, "conditions": [
                {"when": "replied", "then": {"exit": "replied"}},
                {"when": "no_condition_met", "within": "P2D", "then": {"next": True}}]},
            {"key": "bump", "type": "auto_sms", "delay": "P1D", "sms": {"body": "Hi"}},
            {"key": "nudge", "type": "auto_email", "delay": "PT2H", "email": email},
            {"key": "last", "type": "auto_email", "delay": "P3D", "email": email}]}]},
        "activation": {
            "name": "bench", "begin": "2026-12-01", "timezone": "America/New_York",
            "send_days": ["mon", "tue", "wed", "thu", "fri"],
            "send_window": {"start": "08:00", "stop": "17:00"}, "primary_user": "alice",
            "rate_limits": {"email": {"count": 5000, "per": "PT1H"}, "sms": {"count": 2000, "per": "PT1H"}}},
        "activated_at": "2026-12-01T14:00:00Z",
        "contacts": [{"id": f"c{i:06d}", "email": f"c{i}@x.example", "phone": f"+1555{i:07d}"}
                     for i in range(n)],
        "events": [{"at": "2026-12-02T15:00:00Z", "type": "replied", "contact": f"c{i:06d}", "step": "intro"}
                   for i in range(0, n, 10)]
,
        "until": "2027-02-01T00:00:00Z",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs; the median and best are printed")
    parser.add_argument("--baseline", type=float, help="seconds of a previous run to compare with")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = parser.parse_args()
    sc = Scenario.model_validate(scenario(args.contacts))
    if args.tracemalloc:
        tracemalloc.start()
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        actions, _ = run(sc)
        times.append(time.perf_counter() - started)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"contacts={args.contacts} actions={len(actions)} seconds={times[-1]:.2f} "
              f"contacts_per_s={args.contacts / times[-1]:,.0f} peak_rss_mib={peak_rss:.0f}", flush=True)  # fmt: skip
    if args.repeat > 1:
        print(f"median_seconds={statistics.median(times):.2f} best_seconds={min(times):.2f}")
    if args.tracemalloc:
        print(f"traced_peak_mib={tracemalloc.get_traced_memory()[1] / 2**20:.0f}")
    if args.baseline:
        print(f"vs baseline {args.baseline:.2f}s: {statistics.median(times) / args.baseline:.2f}x")


if __name__ == "__main__":
    main()
