from __future__ import annotations

import pytest

from ansible_collections.fragments.deploy.plugins.module_utils import reference


@pytest.mark.parametrize("name", ["fragments", "alice/fragments", "a/b/c", "a.b_c__d-e--f/x", "a" * 255, "0/9"])
def test_valid_repositories(name):
    assert reference.repository_problem(name) == ""


@pytest.mark.parametrize("name", ["", "Alice/fragments", "alice//fragments", "/alice", "alice/", "-a", "a-",
                                  "a..b", "a___b", "a b", "a:b", "a" * 256, "alice/Fragments"])
def test_invalid_repositories_name_value_and_rule(name):
    problem = reference.repository_problem(name)
    assert repr(name) in problem
    assert "grammar" in problem or "longer" in problem


@pytest.mark.parametrize("tag", ["latest", "lab-6", "lab-6-step-20", "v1.2.3", "_x", "A" * 128, "abc123def456"])
def test_valid_tags(tag):
    assert reference.tag_problem(tag) == ""


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a:b", "a b", "ü", None, 6])
def test_invalid_tags(tag):
    assert "tag" in reference.tag_problem(tag)


@pytest.mark.parametrize(("registry", "ok"), [
    ("docker.io", True), ("127.0.0.1:5443", True), ("registry.lab:5443", True), ("localhost:5000", True),
    ("[::1]:5000", True), ("-bad.example", False), ("host:port", False), ("", False), ("a_b.example", False),
])
def test_registries(registry, ok):
    assert (reference.registry_problem(registry) == "") is ok


@pytest.mark.parametrize(("ref", "expected"), [
    ("fragments", ("docker.io", "library/fragments", None, None)),
    ("alice/fragments:lab-6", ("docker.io", "alice/fragments", "lab-6", None)),
    ("registry.lab:5443/fragments:1", ("registry.lab:5443", "fragments", "1", None)),
    ("localhost/app", ("localhost", "app", None, None)),
    ("127.0.0.1:5443/a/b@sha256:" + "a" * 64, ("127.0.0.1:5443", "a/b", None, "sha256:" + "a" * 64)),
    ("index.docker.io/alice/x", ("docker.io", "alice/x", None, None)),
])
def test_parse(ref, expected):
    parsed = reference.parse(ref)
    assert (parsed["registry"], parsed["repository"], parsed["tag"], parsed["digest"]) == expected


@pytest.mark.parametrize("ref", ["Alice/x", "x:.bad", "x@sha256:nothex", "reg:5000/x:"])
def test_parse_refuses_bad_references(ref):
    with pytest.raises(ValueError):
        reference.parse(ref)


def test_api_host_of_docker_hub():
    assert reference.api_host("docker.io") == "registry-1.docker.io"
    assert reference.api_host("registry.lab:5443") == "registry.lab:5443"
