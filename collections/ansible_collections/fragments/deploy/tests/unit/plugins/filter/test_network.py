from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fragments.deploy.plugins.filter.network import cidr_problems


def test_valid_blocks_have_no_problems():
    assert cidr_problems(["203.0.113.7/32", "10.0.0.0/8", "2001:db8::/64", "0.0.0.0/0"]) == []


@pytest.mark.parametrize("cidr, words", [
    ("203.0.113.7", "needs a prefix length"),
    ("10.0.0.1/8", "host bits set"),
    ("300.1.1.1/32", "is not a CIDR block"),
    ("10.0.0.0/33", "is not a CIDR block"),
    ("example.com/24", "is not a CIDR block"),
])
def test_each_bad_block_is_named(cidr, words):
    [problem] = cidr_problems([cidr], name="ec2_hosts_admin_cidrs")
    assert problem.startswith("ec2_hosts_admin_cidrs: ")
    assert repr(cidr) in problem and words in problem


@pytest.mark.parametrize("world", ["0.0.0.0/0", "::/0"])
def test_world_refused_when_asked(world):
    [problem] = cidr_problems(["203.0.113.7/32", world], allow_world=False)
    assert "opens to every address" in problem


@pytest.mark.parametrize("value", ["10.0.0.0/8", None, {"a": 1}])
def test_not_a_list_is_an_error(value):
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        cidr_problems(value)
