from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fragments.deploy.plugins.filter.app_deploy_problems import (
    app_deploy_problems,
)
from ansible_collections.fragments.deploy.plugins.filter.batches import batches
from ansible_collections.fragments.deploy.plugins.module_utils.app_settings import ARGUMENT_SPEC, problems
from ansible_collections.fragments.deploy.plugins.filter.status_table import (
    status_table,
)
from ansible_collections.fragments.deploy.plugins.filter.tagged import tagged

DIGEST = "sha256:" + "a" * 64
ARGUMENT_DEFAULTS = {name: option.get("default") for name, option in ARGUMENT_SPEC.items()}
HOSTS = ["h1", "h2", "h3", "h4", "h5"]


@pytest.mark.parametrize("size, expected", [
    (2, [["h1", "h2"], ["h3", "h4"], ["h5"]]),
    ("1", [["h1"], ["h2"], ["h3"], ["h4"], ["h5"]]),
    ("40%", [["h1", "h2"], ["h3", "h4"], ["h5"]]),
    ("100%", [HOSTS]),
    ("10%", [["h1"], ["h2"], ["h3"], ["h4"], ["h5"]]),  # never a batch of none
    (9, [HOSTS]),
])
def test_batches_split_in_order(size, expected):
    assert batches(HOSTS, size) == expected


@pytest.mark.parametrize("size, through, expected", [
    (2, "h1", [["h1", "h2"]]),
    (2, "h2", [["h1", "h2"]]),
    (2, "h3", [["h1", "h2"], ["h3", "h4"]]),
    (2, "h5", [["h1", "h2"], ["h3", "h4"], ["h5"]]),
    (1, "h3", [["h1"], ["h2"], ["h3"]]),
    ("100%", "h4", [HOSTS]),
])
def test_batches_through_a_host_end_with_its_own(size, through, expected):
    # A prefix of the whole list for every host: the deploy role's hosts include the same batch
    # files in the same order, whichever host's include Ansible reads first.
    assert batches(HOSTS, size, through=through) == expected
    assert batches(HOSTS, size)[:len(expected)] == expected


def test_batches_through_a_host_not_listed_is_refused():
    with pytest.raises(AnsibleFilterError, match="through='h9' is not one of the hosts"):
        batches(HOSTS, 2, through="h9")


@pytest.mark.parametrize("size", [0, "0%", "101%", "-1", "half", None])
def test_batches_refuse_a_size_that_is_none(size):
    with pytest.raises(AnsibleFilterError, match="a batch size is a number of hosts above 0"):
        batches(HOSTS, size)


def test_app_options_that_are_valid_have_no_problems():
    assert app_deploy_problems({"name": "web", "image": "docker.io/alice/web", "digest": DIGEST}) == []


def test_app_problems_let_an_empty_digest_pass_on_the_control_node_before_the_tag_is_pinned():
    options = {"name": "web", "image": "docker.io/alice/web", "digest": ""}
    assert app_deploy_problems(options) == []
    assert problems({**ARGUMENT_DEFAULTS, **options}) == ["digest must be sha256:<64 hex digits> (not '')"]


def test_app_problems_name_the_callers_variables():
    found = app_deploy_problems({"name": "web app", "image": "docker.io/alice/web:1", "digest": "sha256:12",
                                 "health_path": "healthz"}, prefix="container_app_")
    assert any(p.startswith("container_app_name must be letters") for p in found)
    assert any(p.startswith("container_app_image must be a repository without tag") for p in found)
    assert any(p.startswith("container_app_digest must be sha256:") for p in found)
    assert any(p.startswith("container_app_health_path must start with /") for p in found)


def test_app_problems_report_a_wrong_type_under_the_prefixed_name():
    found = app_deploy_problems({"name": "web", "image": "docker.io/alice/web", "digest": DIGEST,
                                 "host_ports": "eighty"}, prefix="container_app_")
    assert found and "container_app_host_ports" in found[0]


def test_app_problems_want_a_dict():
    with pytest.raises(AnsibleFilterError, match="expects a dict"):
        app_deploy_problems(["web"])


def test_status_table_lines_up_columns_and_marks_empty_cells():
    lines = status_table([{"host": "h1", "tags": ["v1", "latest"], "health": "healthy"},
                          {"host": "host-two", "tags": [], "health": "line\nbreak"}],
                         [["host", "HOST"], ["tags", "TAGS"], ["health", "HEALTH"]])
    assert lines == [
        "HOST      TAGS       HEALTH",
        "h1        v1,latest  healthy",
        "host-two  -          line break",
    ]


def test_status_table_wants_pairs():
    with pytest.raises(AnsibleFilterError, match="pairs"):
        status_table([{"host": "h1"}], ["host"])


def test_tagged_keeps_what_carries_every_tag():
    ours = {"name": "a", "tags": {"Project": "fragments", "ManagedBy": "fragments-deploy", "Extra": "x"}}
    other_project = {"name": "b", "tags": {"Project": "other", "ManagedBy": "fragments-deploy"}}
    untagged = {"name": "c", "tags": None}
    no_key = {"name": "d"}
    found = tagged([ours, other_project, untagged, no_key], {"Project": "fragments", "ManagedBy": "fragments-deploy"})
    assert found == [ours]


@pytest.mark.parametrize("tags", [{}, None, ["Project"]])
def test_tagged_refuses_to_match_everything(tags):
    with pytest.raises(AnsibleFilterError, match="non-empty dict"):
        tagged([{"tags": {}}], tags)


@pytest.mark.parametrize("remote, url", [
    ("git@github.com:alice/fragments.git", "https://github.com/alice/fragments"),
    ("https://github.com/alice/fragments.git", "https://github.com/alice/fragments"),
    ("https://alice:ghp_secret123@github.com/alice/fragments.git\n", "https://github.com/alice/fragments"),
    ("ssh://git@gitlab.example.org:2222/team/fragments.git", "https://gitlab.example.org/team/fragments"),
    ("/work/main", ""),
    ("file:///srv/git/fragments.git", ""),
    ("../fragments", ""),
    ("", ""),
])
def test_a_remote_becomes_its_public_address_without_credentials(remote, url):
    from ansible_collections.fragments.deploy.plugins.filter.public_source_url import public_source_url

    assert public_source_url(remote) == url
