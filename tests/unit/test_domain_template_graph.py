"""Template checks across steps (template_graph): unique keys, known goto targets, no instant cycle."""

from __future__ import annotations

from support.templates import auto, error_of, example, ncm, one_branch, task

from seqflow.domain.template import Template

# --- keys and targets -----------------------------------------------------------------------------


def test_rejects_a_duplicate_step_key_across_branches() -> None:
    data = example()
    data["branches"][1]["steps"][0]["key"] = "intro"
    assert "branches[1].steps[0].key: duplicate step key 'intro'" in error_of(data)


def test_rejects_a_duplicate_branch_key() -> None:
    data = example()
    data["branches"].append({"key": "main", "steps": [task("extra")]})
    assert "branches[2].key: duplicate branch key 'main'" in error_of(data)


def test_rejects_a_dangling_goto_step() -> None:
    data = example()
    data["branches"][0]["steps"][0]["conditions"][1]["then"] = {"goto_step": "xyz"}
    assert error_of(data) == "branches[0].steps[0].conditions[1].then.goto_step: unknown step 'xyz'"


def test_rejects_a_dangling_goto_branch() -> None:
    data = example()
    data["branches"][0]["steps"][0]["conditions"][0]["then"] = {"goto_branch": "nowhere"}
    assert error_of(data) == "branches[0].steps[0].conditions[0].then.goto_branch: unknown branch 'nowhere'"


# --- cycles of moves that all happen at once (§4.1) ---------------------------------------------


def test_rejects_a_zero_delay_self_loop() -> None:
    data = one_branch(auto("a", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert error_of(data) == "branches[0].steps[0]: cycle of moves that all happen at once: a -> a"


def test_rejects_a_zero_time_cycle_across_branches() -> None:
    data = {
        "name": "t",
        "owner": "alice",
        "branches": [
            {
                "key": "main",
                "steps": [auto("a"), auto("b", conditions=[ncm("P0D", {"goto_branch": "other"})])],
            },
            {"key": "other", "steps": [auto("c", conditions=[ncm("PT0S", {"goto_step": "a"})])]},
        ],
    }
    assert error_of(data).endswith("cycle of moves that all happen at once: a -> b -> c -> a")


def test_reports_a_cycle_once() -> None:
    data = one_branch(auto("a"), auto("b", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert len(error_of(data).splitlines()) == 1


def test_a_non_zero_delay_breaks_a_cycle() -> None:
    data = one_branch(auto("a"), auto("b", delay="PT1S", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert Template.from_json(data)


def test_a_non_zero_within_breaks_a_cycle() -> None:
    data = one_branch(auto("a"), auto("b", conditions=[ncm("PT1M", {"goto_step": "a"})]))
    assert Template.from_json(data)


def test_a_manual_step_breaks_a_cycle() -> None:
    data = one_branch(auto("a"), task("t"), auto("b", conditions=[ncm("PT0S", {"goto_step": "a"})]))
    assert Template.from_json(data)


def test_engagement_moves_do_not_form_an_instant_cycle() -> None:
    conditions = [{"when": "opened", "then": {"goto_step": "a"}}, ncm("P1D", {"next": True})]
    assert Template.from_json(one_branch(auto("a", conditions=conditions)))


def test_a_zero_time_chain_that_ends_is_accepted() -> None:
    assert Template.from_json(one_branch(auto("a"), auto("b"), auto("c")))
