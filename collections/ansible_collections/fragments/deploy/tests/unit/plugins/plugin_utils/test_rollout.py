"""The rollout's plan (module rollout_plan): which settings it refuses, what it rolls out, and
who it is for the locks."""

from __future__ import annotations

import re

import pytest

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import choose_target, lock_owner, settings_problem

DIGEST, PINNED, RECORDED = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64


@pytest.mark.parametrize(("batch", "percent", "stale"), [
    (1, 0, 1800), ("1", "0", "1800"), ("50%", 100, 1), ("100%", 25, 60), (12, "7", 1),
])
def test_valid_settings_pass(batch, percent, stale):
    assert settings_problem(batch, percent, stale) == ""


@pytest.mark.parametrize(("batch", "percent", "stale"), [
    (0, 0, 1800), ("0%", 0, 1800), ("101%", 0, 1800), ("half", 0, 1800), (-1, 0, 1800), ("", 0, 1800),
    (1, 150, 1800), (1, -1, 1800), (1, "some", 1800), (1, True, 1800), (1, 2.5, 1800),
    (1, 0, 0), (1, 0, "soon"),
])
def test_each_invalid_setting_is_refused_saying_what_each_should_be(batch, percent, stale):
    assert settings_problem(batch, percent, stale) == (
        "Check the deploy settings: deploy_batch_size is a number of hosts or a percentage such as 50%% (now %s), "
        "deploy_max_fail_percentage a whole number from 0 to 100 (now %s), deploy_lock_stale_after seconds above 0 "
        "(now %s). Nothing was changed." % (batch, percent, stale))


@pytest.mark.parametrize(("digest", "tags", "pinned", "release", "target"), [
    # The digest given wins, with the tags given for it.
    (DIGEST, ["v2"], {"digest": PINNED, "tags": ["t"]}, {"digest": RECORDED, "tags": ["r"]}, (DIGEST, ["v2"])),
    # Else the pinned tag, else the release recorded last.
    ("", [], {"digest": PINNED, "tags": ["lab-6"]}, {"digest": RECORDED, "tags": ["r"]}, (PINNED, ["lab-6"])),
    ("", [], {}, {"digest": RECORDED, "tags": ["lab-5", "latest"]}, (RECORDED, ["lab-5", "latest"])),
])
def test_the_target_is_the_digest_given_else_the_pinned_tag_else_the_release_recorded_last(
        digest, tags, pinned, release, target):
    chosen = choose_target(digest, tags, pinned, release)
    assert (chosen["digest"], chosen["tags"]) == target


@pytest.mark.parametrize(("digest", "release", "shown"), [
    ("sha256:abc", {}, "sha256:abc"),
    ("SHA256:" + "a" * 64, {}, "SHA256:" + "a" * 64),
    ("", {}, ""),                                           # nothing given, nothing recorded
    ("", {"digest": "sha256:" + "g" * 64}, "sha256:" + "g" * 64),
])
def test_a_target_that_is_not_a_digest_is_refused(digest, release, shown):
    with pytest.raises(ValueError) as refused:
        choose_target(digest, [], {}, release)
    assert str(refused.value) == "deploy_digest must be sha256:<64 hex digits>, not %s. Nothing was changed." % shown


def test_the_lock_owner_names_who_where_when_and_a_number_of_its_own():
    assert lock_owner("alice", "ci-7", 0, 42) == "alice@ci-7 1970-01-01T00:00:00Z 42"
    assert lock_owner("", "ci-7", 0, 1) == "someone@ci-7 1970-01-01T00:00:00Z 1"
    mine, again = lock_owner(), lock_owner()
    assert re.match(r"^\S+@\S+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \d+$", mine)
    assert mine != again  # two rollouts started in the same second still differ
