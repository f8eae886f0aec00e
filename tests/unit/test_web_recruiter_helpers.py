"""The web UI's small pure pieces: filters, the branch drawing, safe links, paging, same-origin, Sent."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from seqflow_tasks.api.manual_send import sent_outcome
from seqflow_tasks.web import filters
from seqflow_tasks.web.pages import same_origin
from seqflow_tasks.web.panel import PAGE_SIZE, branch_steps, linkedin, paged
from seqflow_tasks.web.templating import ENV, qs, when


def test_a_due_date_range_becomes_whole_utc_days_with_an_exclusive_end() -> None:
    query = filters.api_query({"due_from": "2026-12-01", "due_to": "2026-12-03", "type": "call"})
    assert query == {"due_from": "2026-12-01T00:00:00+00:00", "due_to": "2026-12-04T00:00:00+00:00",
                     "type": "call"}  # fmt: skip


def test_a_bad_due_date_goes_to_the_api_unchanged_so_its_422_names_the_field() -> None:
    assert filters.api_query({"due_from": "soon"}) == {"due_from": "soon"}


def test_counts_are_asked_for_without_the_type_filter() -> None:
    assert filters.api_query({"type": "call", "priority": "high"}, without=("type",)) == {"priority": "high"}


def test_only_known_non_empty_filters_come_back_from_a_forms_list_field() -> None:
    assert filters.from_list_field("type=call&priority=&evil=1&task=3&sequence=s1") == {"sequence": "s1",
                                                                                         "type": "call"}  # fmt: skip


def test_the_branch_drawing_marks_steps_before_as_done_and_the_tasks_step_as_current() -> None:
    seq = {"template": {"branches": [{"key": "other", "steps": [{"key": "x", "type": "task"}]},
                                     {"key": "main", "steps": [{"key": k, "type": "call"} for k in "abc"]}]}}
    drawn = branch_steps(seq, {"branch": "main", "step_index": 1})
    assert [(s["key"], s["state"]) for s in drawn] == [("a", "done"), ("b", "current"), ("c", "ahead")]
    assert branch_steps(seq, {"branch": "gone", "step_index": 0}) == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "//evil.example", "", None])
def test_a_linkedin_field_that_is_not_an_http_link_gives_no_link(url: str | None) -> None:
    assert linkedin({"custom": {"linkedin": url}}) is None


def test_a_linkedin_url_is_found_in_the_custom_fields() -> None:
    assert linkedin({"custom": {"linkedin_url": "https://www.linkedin.com/in/ada"}}) == "https://www.linkedin.com/in/ada"


def test_activities_are_paged_and_a_page_out_of_range_shows_the_nearest_one() -> None:
    items = list(range(PAGE_SIZE * 2 + 1))
    assert paged(items, "2") == (items[PAGE_SIZE : 2 * PAGE_SIZE], 2, 3)
    assert paged(items, "99")[1:] == (3, 3)
    assert paged(items, "x")[1] == 1
    assert paged([], "1") == ([], 1, 1)


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"Origin": "http://ui.example:8000"}, True),
        ({"Origin": "https://ui.example:8000"}, True),  # TLS ended at a proxy in front of the service
        ({"Origin": "http://ui.example:8000.evil.example"}, False),
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": "null", "Referer": "http://ui.example:8000/ui/tasks"}, True),
        ({"Referer": "http://evil.example/ui/tasks"}, False),
        ({}, False),
    ],
)
def test_a_post_counts_as_ours_only_when_origin_or_referer_names_this_host(headers: dict[str, str], ok: bool) -> None:
    request = make_mocked_request("POST", "/ui/tasks/1/mark", headers={"Host": "ui.example:8000", **headers})
    assert same_origin(request) is ok


@pytest.mark.parametrize(
    ("menu", "outcome"),
    [(["Sent", "Bounced"], "Sent"), (["Done"], "Done"), (["Replied", "No reply"], "Replied")],
)
def test_sent_means_the_steps_sent_outcome_else_done_else_its_first(menu: list[str], outcome: str) -> None:
    assert sent_outcome(menu) == outcome


def test_times_read_short_and_queries_drop_empty_values() -> None:
    assert when("2026-12-01T14:00:00+00:00") == "Tue 1 Dec 14:00 UTC"
    assert when(None) == "" and when("soon") == "soon"
    assert qs({"type": "call", "sequence": "s1"}, type=None, task=7) == "sequence=s1&task=7"


def test_templates_escape_contact_data() -> None:
    html = ENV.from_string("<p>{{ name }}</p>").render(name="<img src=x onerror=alert(1)>")
    assert html == "<p>&lt;img src=x onerror=alert(1)&gt;</p>"
