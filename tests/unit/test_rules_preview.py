"""The dry-run preview (issue 9): its figures add up to what `seqflow simulate` prints for the same input.

Scenario defaults as in support.rules_scenarios: America/New_York in December (EST = UTC−5), Mon–Fri
08:00–17:00 local (13:00Z–22:00Z), begin 2026-12-01, activated Tue 2026-12-01 14:00Z (09:00 EST).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from support.rules_scenarios import LIMIT_2_PER_HOUR, REPLY_FLOW, cond, contact, email, scenario, sms, task

from seqflow.domain.activation import Activation
from seqflow.domain.template import Template
from seqflow.rules.preview import preview, scenario_for
from seqflow.rules.simulate import Scenario, run

ACTIVATED = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
KIND = {"email_sent": "email", "sms_sent": "sms", "task_due": "task", "send_failed": "failed"}


def simulated_days(sc: Scenario) -> dict[str, Counter[str]]:
    """Per local New York day: what the simulator's own output counts."""
    days: dict[str, Counter[str]] = {}
    for a in run(sc)[0]:
        if a.action in KIND:
            day = a.at.astimezone(sc.activation.tz).date().isoformat()
            days.setdefault(day, Counter())[KIND[a.action]] += 1
    return days


def preview_days(out: dict[str, Any]) -> dict[str, Counter[str]]:
    return {d["day"]: Counter({k: n for k, n in d.items() if k != "day" and n}) for d in out["days"]}


def mixed(n: int, **activation: Any) -> Scenario:
    """n contacts through reply flow + an SMS, every 7th without email, every 5th without phone."""
    people = [contact(f"c{i:03d}", **({"email": " "} if i % 7 == 0 else {}), **({"phone": None} if i % 5 == 0
              else {})) for i in range(n)]  # fmt: skip
    data = scenario(REPLY_FLOW, [task("book")], contacts=people, **activation)
    return Scenario.model_validate(data)


def test_sends_per_day_per_channel_match_the_simulator_on_the_same_input() -> None:
    sc = mixed(60, rate_limits={"email": {"count": 10, "per": "PT1H"}, "sms": {"count": 5, "per": "PT1H"}})
    out = preview(sc).to_json()
    assert preview_days(out) == simulated_days(sc)
    assert sum(d["email"] for d in out["days"]) == out["totals"]["email"] > 0
    assert out["totals"]["sms"] > 0 and out["totals"]["task"] > 0


def test_contacts_with_a_blank_address_are_listed_with_step_and_channel() -> None:
    sc = mixed(15)
    out = preview(sc).to_json()
    failed = {(f["contact"], f["step"], f["channel"]) for f in out["blank_addresses"]}
    assert failed == {("c000", "intro", "email"), ("c007", "intro", "email"), ("c014", "intro", "email"),
                      ("c005", "bump", "sms"), ("c010", "bump", "sms")}  # fmt: skip
    assert out["totals"]["failed"] == len(failed)


def test_the_rate_limit_holdback_counts_sends_granted_after_they_fell_due() -> None:
    # 5 due at 14:00Z, 2 per hour: c1, c10 at once; c2, c3 wait 1 h; c4 waits 2 h.
    sc = Scenario.model_validate(scenario([email("intro")], contacts=["c1", "c2", "c3", "c4", "c10"],
                                          rate_limits=LIMIT_2_PER_HOUR))  # fmt: skip
    held = preview(sc).to_json()["rate_limited"]
    assert held == {"email": {"sends": 3, "longest_seconds": 7200, "mean_seconds": 4800,
                              "first_due": datetime(2026, 12, 1, 14, 0, tzinfo=UTC),
                              "days": [{"day": "2026-12-01", "sends": 3}],
                              "steps": [{"step": "intro", "sends": 3}]}}  # fmt: skip


def test_without_a_rate_limit_nothing_is_held_back() -> None:
    assert preview(mixed(30)).to_json()["rate_limited"] == {}


def test_the_window_alone_does_not_count_as_held_by_the_rate_limit() -> None:
    # Activated at 23:00Z (18:00 EST, after the window): the send falls due next morning and goes then.
    data = scenario([email("intro")], contacts=["c1", "c2"], activated_at="2026-12-01T23:00:00Z",
                    rate_limits=LIMIT_2_PER_HOUR)  # fmt: skip
    out = preview(Scenario.model_validate(data)).to_json()
    assert out["totals"]["email"] == 2 and out["rate_limited"] == {}


def test_the_last_finish_is_the_latest_completion_and_nobody_is_left_in_progress() -> None:
    data = scenario([email("intro"), sms("bump", "P1D"), email("last", "P2D")], contacts=["c1", "c2"])
    sc = Scenario.model_validate(data)
    out = preview(sc).to_json()
    completions = [a.at for a in run(sc)[0] if a.action == "completed"]
    assert out["last_finish"] == max(completions)
    assert out["totals"]["completed"] == 2 and out["in_progress"] == 0


def test_contacts_on_a_task_nobody_marks_are_counted_in_progress() -> None:
    sc = Scenario.model_validate(scenario([email("intro"), task("call", kind="call")], contacts=["c1", "c2"]))
    out = preview(sc).to_json()
    assert out["in_progress"] == 2 and out["last_finish"] is None and out["totals"]["task"] == 2


def template_and_activation(**activation: Any) -> tuple[Template, Activation]:
    intro = email("intro", "PT0S", cond("replied", {"complete": True}),
                  cond("no_condition_met", {"next": True}, within="P2D"))  # fmt: skip
    data = scenario([intro, sms("bump")], **activation)
    return Template.model_validate(data["template"]), Activation.model_validate(data["activation"])


def test_a_later_begin_is_previewed_as_if_resumed_at_once_so_contacts_enter_at_begin() -> None:
    template, act = template_and_activation(begin="2026-12-07")
    sc = scenario_for(template, act, [contact("c1")], ACTIVATED)
    out = preview(sc).to_json()
    entered = [a for a in run(sc)[0] if a.action == "entered"]
    assert out["assumes_resume"] is True
    assert [a.at for a in entered] == [datetime(2026, 12, 7, 5, 0, tzinfo=UTC)]  # 00:00 EST on begin
    assert out["days"][0]["day"] == "2026-12-07" and out["totals"]["sms"] == 1


def test_the_preview_looks_no_further_than_the_end_setting() -> None:
    template, act = template_and_activation(end="2026-12-02")
    out = preview(scenario_for(template, act, [contact("c1")], ACTIVATED)).to_json()
    assert out["until"] == datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # end of the 2nd, New York time
    assert out["totals"]["ended"] == 1 and out["totals"]["sms"] == 0 and out["in_progress"] == 0


def test_the_preview_looks_ninety_days_ahead_without_an_end() -> None:
    template, act = template_and_activation()
    sc = scenario_for(template, act, [contact("c1")], ACTIVATED)
    assert preview(sc).until == datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    assert sc.events == [] and preview(sc).assumes_resume is False
