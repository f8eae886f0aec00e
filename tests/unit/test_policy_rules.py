"""Route rules admit callers by permission alone; objects are checked by the handlers (see tests/api)."""

import pytest

from seqflow_tasks import policy

USERS = {"admin": ["admin"], "owner": ["sequences:activate", "tasks:mine"], "worker": ["tasks:mine"], "none": []}
EXPECTED = {
    policy.PUBLIC: {"admin", "owner", "worker", "none"},
    policy.SIGNED_IN: {"admin", "owner", "worker", "none"},
    policy.WORKER: {"admin", "owner", "worker"},
    policy.OWNER: {"admin", "owner"},
    policy.ADMIN_ONLY: {"admin"},
}


@pytest.mark.parametrize("rule", list(EXPECTED), ids=lambda r: r.name)
def test_each_rule_admits_exactly_the_users_its_table_row_names(rule: policy.Rule) -> None:
    admitted = {name for name, perms in USERS.items() if rule.allows({"id": name, "permissions": perms})}
    assert admitted == EXPECTED[rule]


def test_a_permission_shorthand_maps_to_the_rule_of_that_permission() -> None:
    assert policy.needs("sequences:activate") is policy.OWNER
    assert policy.needs("admin") is policy.ADMIN_ONLY
    assert policy.needs("tasks:mine") is policy.WORKER
    custom = policy.needs("reports:read")
    assert custom.allows({"permissions": ["reports:read"]}) and not custom.allows({"permissions": ["tasks:mine"]})
