"""The registry_digest module's inputs and its several-tags answer, in this process. (Its
requests run against the lab's Distribution registry in the project's end-to-end tests:
tests/test_release.py.)"""

from __future__ import annotations

import pytest

from ansible_collections.fragments.deploy.plugins.module_utils.registry import ManifestUnknown, RegistryError
from ansible_collections.fragments.deploy.plugins.modules.registry_digest import resolve_tags

DIGEST = "sha256:" + "a" * 64


class Answers:
    """A registry client's manifest_digest answers, by tag: a digest or an exception."""

    def __init__(self, **by_tag):
        self.by_tag = by_tag
        self.asked = []

    def manifest_digest(self, repository, tag):
        self.asked.append((repository, tag))
        answer = self.by_tag[tag]
        if isinstance(answer, Exception):
            raise answer
        return answer, "application/vnd.oci.image.manifest.v1+json"


def test_each_tag_is_asked_once_and_an_unknown_one_maps_to_none():
    client = Answers(latest=DIGEST, v2=ManifestUnknown("tag v2 not found"))
    assert resolve_tags(client, "team/app", ["latest", "v2"]) == {"latest": DIGEST, "v2": None}
    assert client.asked == [("team/app", "latest"), ("team/app", "v2")]


def test_any_other_failure_is_not_taken_for_a_missing_tag():
    client = Answers(latest=RegistryError("registry r refused the credentials of user 'a'"))
    with pytest.raises(RegistryError, match="refused the credentials"):
        resolve_tags(client, "team/app", ["latest"])


@pytest.mark.parametrize("image, tags, message", [
    ("registry.lab:5443/team/app:v1", ["latest"], "with tags, give image as registry/repository, without a tag"),
    ("registry.lab:5443/team/app", ["latest", "-bad"], "tag '-bad' does not follow Docker's reference grammar"),
])
def test_bad_tags_input_is_refused_before_any_request(run_module, image, tags, message):
    # The registry's address does not resolve: a request would fail with another message.
    result = run_module("registry_digest", {"image": image, "tags": tags})
    assert result["failed"] is True and message in result["msg"], result
