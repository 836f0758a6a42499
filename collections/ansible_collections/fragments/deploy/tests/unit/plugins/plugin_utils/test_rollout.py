"""The rollout's plan (module rollout_plan): which settings and digests it refuses, and who a
rollout is for the locks; what a host the target group never called healthy fails with
(module target_group_join)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import (
    digest_problem, lock_owner, no_target_group, not_healthy_in_time, plain_http_problem, settings_problem,
    strategy_problem)

DIGEST = "sha256:" + "a" * 64


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


@pytest.mark.parametrize("strategy", ["linear", "ansible.builtin.linear", "debug", "mitogen_linear", None, ""])
def test_strategies_that_keep_the_hosts_in_step_pass(strategy):
    assert strategy_problem(strategy, "free") == ""


@pytest.mark.parametrize("strategy", ["free", "ansible.builtin.free", "host_pinned", "mitogen_free"])
def test_a_configured_strategy_that_lets_hosts_run_ahead_is_refused_naming_it_and_the_setting(strategy):
    said = strategy_problem(strategy, strategy)
    assert said.startswith("The deploy role needs a strategy that keeps the hosts in step (linear), not %s:" % strategy)
    assert said.endswith("To run it, unset ANSIBLE_STRATEGY or the strategy setting of ansible.cfg. Nothing was changed.")


@pytest.mark.parametrize("configured", ["linear", "free"])
def test_a_play_keyword_that_lets_hosts_run_ahead_is_refused_naming_the_keyword(configured):
    said = strategy_problem("host_pinned", configured)
    assert said.startswith("The deploy role needs a strategy that keeps the hosts in step (linear), not host_pinned:")
    assert said.endswith("To run it, remove strategy: host_pinned from the play. Nothing was changed.")


@pytest.mark.parametrize("digest", ["", DIGEST])
def test_a_digest_or_none_passes(digest):
    assert digest_problem(digest) == ""


@pytest.mark.parametrize("digest", ["sha256:abc", "SHA256:" + "a" * 64, "sha256:" + "g" * 64, "sha512:" + "a" * 64,
                                    "lab-6", DIGEST + " ", DIGEST + "\n"])
def test_a_digest_that_is_none_is_refused_saying_what_one_looks_like(digest):
    assert digest_problem(digest) == "deploy_digest must be sha256:<64 hex digits>, not %s. Nothing was changed." % digest


def test_the_lock_owner_names_who_where_when_and_a_number_of_its_own():
    assert lock_owner("alice", "ci-7", 0, 42) == "alice@ci-7 1970-01-01T00:00:00Z 42"
    assert lock_owner("", "ci-7", 0, 1) == "someone@ci-7 1970-01-01T00:00:00Z 1"
    mine, again = lock_owner(), lock_owner()
    assert re.match(r"^\S+@\S+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \d+$", mine)
    assert mine != again  # two rollouts started in the same second still differ


def test_plain_http_to_a_public_address_is_refused_naming_it_unless_allowed():
    urls = ["https://app.example.com", "http://10.0.0.7", "", "http://52.0.0.10", "http://app.example.com"]
    said = plain_http_problem(urls, allowed=False)
    assert said.startswith("http://52.0.0.10, http://app.example.com: plain HTTP to a public address")
    assert said.endswith("set deploy_plain_http_allowed to true. Nothing was changed.")
    assert plain_http_problem(urls, allowed=True) == ""
    assert plain_http_problem(["https://app.example.com", "http://127.0.0.1:5505", ""], allowed=False) == ""


@pytest.mark.parametrize(("health", "said"), [
    ({"state": "unhealthy", "reason": "Target.FailedHealthChecks", "description": "Health checks failed"},
     "unhealthy (Target.FailedHealthChecks: Health checks failed)"),
    ({"state": "unhealthy", "reason": "Target.Timeout", "description": ""}, "unhealthy (Target.Timeout)"),
    ({"state": "initial", "reason": "", "description": ""}, "initial"),
    ({"state": "", "reason": "", "description": ""}, "not registered"),
])
def test_a_host_never_called_healthy_is_failed_with_the_groups_last_word(health, said):
    assert not_healthy_in_time("web", "i-1", 300, health) == (
        "The load balancer's target group web did not call i-1 healthy within 300 s: " + said)


def test_a_missing_target_group_names_the_settings_to_check():
    assert no_target_group("web", "eu-west-1") == (
        "No target group web in eu-west-1: check deploy_target_group and deploy_aws_region.")
