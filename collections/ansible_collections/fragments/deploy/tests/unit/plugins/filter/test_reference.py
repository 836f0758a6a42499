from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fragments.deploy.plugins.filter.reference import FilterModule, reference_problems


def test_all_valid_is_empty():
    assert reference_problems("alice/fragments", registry="docker.io", tags=["latest", "lab-6"]) == []


def test_each_problem_is_named():
    problems = reference_problems("Alice/fragments", registry="bad_host", tags=["ok", ".no", "x" * 200])
    assert len(problems) == 4
    assert "'bad_host'" in problems[0]
    assert "'Alice/fragments'" in problems[1]
    assert "'.no'" in problems[2]


def test_tags_must_be_a_list():
    with pytest.raises(AnsibleFilterError, match="tags must be a list"):
        reference_problems("a", tags="latest")


def test_filter_is_registered():
    assert FilterModule().filters()["reference_problems"] is reference_problems
