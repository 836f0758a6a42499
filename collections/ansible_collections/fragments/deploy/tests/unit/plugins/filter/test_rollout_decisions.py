"""The deploy role's decisions, made in Python: each host's note after each step, the stop rule,
the tally and the revert set of a rollout, the refusal of a rollout some hosts could not join, the release a rollback goes to,
each host's status row and the fleet's status report."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fragments.deploy.plugins.filter.rollback_target import rollback_target
from ansible_collections.fragments.deploy.plugins.filter.rollout_note import rollout_note
from ansible_collections.fragments.deploy.plugins.filter.rollout_refusal import rollout_refusal
from ansible_collections.fragments.deploy.plugins.filter.rollout_tally import rollout_tally
from ansible_collections.fragments.deploy.plugins.filter.status_report import status_report
from ansible_collections.fragments.deploy.plugins.filter.status_row import status_row
from ansible_collections.fragments.deploy.plugins.filter.target_health import target_health

DIGEST, OTHER = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def tallied(outcomes, lost=(), percent=0, previous=None, errors=None, **others):
    """rollout_tally over the notes of hosts with these outcomes, previous digests and errors."""
    notes = {host: {"outcome": outcome, "previous_digest": (previous or {}).get(host, ""),
                    "error": (errors or {}).get(host, "")} for host, outcome in outcomes.items()}
    return rollout_tally(notes, list(lost), percent, **others)


@pytest.mark.parametrize(("outcomes", "lost", "percent", "stopped"), [
    ({"a": "updated", "b": "", "c": ""}, [], 0, False),
    ({"a": "failed", "b": "", "c": ""}, [], 0, True),                  # the default stops at the first
    ({"a": "failed", "b": "", "c": "", "d": ""}, [], 25, False),        # 1 of 4 is 25%: allowed
    ({"a": "failed", "b": "revert failed", "c": "", "d": ""}, [], 25, True),
    ({"a": "updated", "b": ""}, ["c"], 50, False),                      # 1 of 3 lost: 33% <= 50%
    ({"a": "updated", "b": ""}, ["c"], 0, True),
    ({"a": "unchanged", "b": "reverted"}, [], 0, False),                # reverted is not a failure
])
def test_the_rollout_stops_once_more_failed_than_allowed(outcomes, lost, percent, stopped):
    assert tallied(outcomes, lost, percent)["stopped"] is stopped


def test_the_tally_names_each_kind_of_host_in_play_order():
    tally = tallied({"a": "updated", "b": "failed", "c": "reverted", "d": "", "e": "revert failed"}, ["f"], 0)
    assert tally.pop("message")
    assert tally == {"failed": ["b", "e", "f"], "lost": ["f"], "tried": ["a", "b", "c", "e"], "updated": ["a"],
                     "reverted": ["c"], "not_tried": ["d"], "stopped": True, "to_revert": [],
                     "converge_first": ["d"], "nothing_to_do": False}


def test_a_stopped_rollout_says_where_it_failed_and_why_what_went_back_and_what_was_not_tried():
    tally = tallied({"a": "reverted", "b": "failed", "c": "", "d": "revert failed"}, ["e"], 0,
                    errors={"b": "gate: exited with code 3", "d": "no free port"},
                    release={"digest": DIGEST, "tags": ["v2"]})
    assert tally["message"] == (
        "The rollout of %s stopped. Failed: b (gate: exited with code 3), d (no free port), e (out of reach). "
        "Put back on their previous version: a. Not tried: c." % DIGEST)
    assert tallied({"a": "failed"}, [], 0)["message"] == (
        "The rollout stopped. Failed: a (failed). Put back on their previous version: none. Not tried: none.")


def test_a_lost_host_s_note_of_an_earlier_rollout_is_not_read():
    tally = tallied({"a": "updated", "b": "updated", "c": ""}, ["a"], 50, previous={"a": OTHER, "b": OTHER},
                    errors={"a": "an earlier rollout's"})
    assert (tally["failed"], tally["updated"], tally["tried"], tally["to_revert"]) == (["a"], ["b"], ["b"], [])
    assert "a (out of reach)" in tallied({"a": "updated", "b": ""}, ["a"], 0)["message"]


@pytest.mark.parametrize(("notes", "lost", "nothing_to_do"), [
    ({"a": {"outcome": "unchanged"}, "b": {"outcome": "unchanged"}}, [], True),
    ({"a": {"outcome": "unchanged"}, "b": {"outcome": ""}}, [], False),              # b is still to change
    ({"a": {"outcome": "unchanged"}, "b": {"outcome": "failed"}}, [], False),
    ({"a": {"outcome": "unchanged"}}, ["b"], False),                                 # b is out of reach
    ({"a": {"outcome": "unchanged", "lock_path": "/l"}}, [], False),                 # a lock to give back (check mode)
    ({}, [], False),
])
def test_nothing_is_left_to_do_only_where_every_host_runs_the_release_and_holds_no_lock(notes, lost, nothing_to_do):
    assert rollout_tally(notes, lost)["nothing_to_do"] is nothing_to_do


def test_a_rollout_that_goes_on_says_where_the_release_runs():
    release = {"digest": DIGEST, "tags": ["v2", "abc123"]}
    assert tallied({"a": "updated", "b": "unchanged"}, [], 0, release=release)["message"] == (
        "%s (v2, abc123) runs on a, b; changed on 1 of 2." % DIGEST)
    assert tallied({"a": "updated", "b": "failed", "c": "updated"}, [], 50, release=release)["message"] == (
        "%s (v2, abc123) runs on a, c; changed on 2 of 3, failed on b." % DIGEST)


@pytest.mark.parametrize("outcomes, previous, to_revert", [
    # Stopped: the updated hosts that ran another version go back; one that ran nothing keeps it.
    ({"a": "updated", "b": "updated", "c": "failed"}, {"a": "sha256:old", "b": ""}, ["a"]),
    # Not stopped (every host fine): nothing goes back.
    ({"a": "updated", "b": "updated"}, {"a": "sha256:old", "b": "sha256:old"}, []),
    # Already put back, or unchanged: not again.
    ({"a": "reverted", "b": "unchanged", "c": "failed"}, {"a": "sha256:old", "b": "sha256:old"}, []),
    # Switched, then failed (the load balancer did not call it healthy): back at once, stopped or not.
    ({"a": "failed", "b": "", "c": "", "d": ""}, {"a": "sha256:old"}, ["a"]),
    ({"a": "updated", "b": "failed", "c": "updated"}, {"a": "sha256:old", "b": "sha256:old"}, ["a", "b"]),
])
def test_the_revert_set(outcomes, previous, to_revert):
    assert tallied(outcomes, [], 0, previous)["to_revert"] == to_revert


def test_a_host_that_failed_after_its_switch_goes_back_though_the_rollout_goes_on():
    tally = tallied({"a": "failed", "b": "updated", "c": "", "d": ""}, [], 25, {"a": "sha256:old", "b": "sha256:old"})
    assert not tally["stopped"] and tally["to_revert"] == ["a"]


def test_nothing_goes_back_when_reverts_are_off():
    tally = tallied({"a": "updated", "b": "failed"}, [], 0, {"a": "sha256:old", "b": "sha256:old"},
                    revert_on_failure=False)
    assert tally["stopped"] and tally["to_revert"] == []


PREPARED = {"acquired": True, "released": False, "up_to_date": False, "lock_path": "/var/lib/app/deploy.lock"}


@pytest.mark.parametrize(("answer", "outcome", "lock_path"), [
    (PREPARED, "", "/var/lib/app/deploy.lock"),                                        # to change: the lock is held
    (dict(PREPARED, up_to_date=True, released=True), "unchanged", ""),                 # serves it already: given back
    ({"acquired": False, "released": False, "lock_path": "/var/lib/app/deploy.lock"}, "", ""),  # someone else's
])
def test_what_a_prepared_host_notes(answer, outcome, lock_path):
    note = rollout_note({}, "prepared", answer)
    assert (note["outcome"], note["lock_path"], note["error"], note["converged"]) == (outcome, lock_path, "", False)


def test_a_failure_is_noted_with_what_it_said_and_the_lock_it_left():
    note = rollout_note({}, "prepare failed",
                        failure={"msg": "  docker is not running \n", "lock_path": "/l"})
    assert (note["outcome"], note["error"], note["lock_path"]) == ("failed", "docker is not running", "/l")
    note = rollout_note({}, "converge failed", failure={}, failed_task="Install Docker")
    assert (note["outcome"], note["error"]) == ("failed", "Install Docker: failed")


@pytest.mark.parametrize(("answer", "outcome", "previous"), [
    ({"outcome": "deployed", "previous_digest": OTHER}, "updated", OTHER),
    ({"outcome": "unchanged", "previous_digest": OTHER}, "unchanged", OTHER),
])
def test_a_change_is_noted_updated_only_when_the_module_deployed(answer, outcome, previous):
    assert rollout_note({"lock_path": "/l"}, "changed", answer) == {
        "outcome": outcome, "error": "", "lock_path": "/l", "holder": None, "previous_digest": previous,
        "converged": False, "app_running": False}


@pytest.mark.parametrize(("answer", "previous"), [
    ({"outcome": "deployed", "previous_digest": OTHER}, OTHER),  # switched, then not called healthy: goes back
    ({"outcome": "refused", "previous_digest": OTHER}, ""),      # the gate refused it: the old one still serves
    ({}, ""),                                                     # the module never answered
])
def test_a_failed_change_keeps_the_version_to_go_back_to_only_once_switched(answer, previous):
    note = rollout_note({}, "change failed", answer, {"msg": "unhealthy"})
    assert (note["outcome"], note["error"], note["previous_digest"]) == ("failed", "unhealthy", previous)


def test_a_put_back_host_keeps_its_failure_and_says_where_it_went():
    failed = rollout_note({}, "change failed", {"outcome": "deployed", "previous_digest": OTHER}, {"msg": "unhealthy"})
    back = rollout_note(failed, "reverted")
    assert (back["outcome"], back["previous_digest"]) == ("failed", "")
    assert back["error"] == "unhealthy; put back on " + OTHER
    updated = rollout_note({}, "changed", {"outcome": "deployed", "previous_digest": OTHER})
    assert rollout_note(updated, "reverted")["outcome"] == "reverted"
    assert rollout_note(updated, "reverted")["error"] == ""
    lost = rollout_note(failed, "revert failed", failure={"msg": "no such image"})
    assert (lost["outcome"], lost["error"]) == (
        "revert failed", "unhealthy; putting back %s failed: no such image" % OTHER)


def test_notes_feed_the_tally():
    notes = {"a": rollout_note({}, "changed", {"outcome": "deployed", "previous_digest": OTHER}),
             "b": rollout_note({}, "change failed", {"outcome": "refused"}, {"msg": "gate: exit 3"}),
             "c": {}}
    tally = rollout_tally(notes, [], 0)
    assert (tally["stopped"], tally["to_revert"], tally["not_tried"]) == (True, ["a"], ["c"])
    assert "b (gate: exit 3)" in tally["message"]


def test_notes_feed_the_refusal_of_hosts_another_deploy_holds():
    holder = {"owner": "alice@laptop 2026-12-04T10:00:00Z 7", "since": "2026-12-04T10:00:00Z", "stale": False}
    notes = {"a": rollout_note({}, "prepared", PREPARED),
             "b": rollout_note({}, "prepared", {"acquired": False, "holder": holder, "lock_path": "/l"})}
    assert (notes["a"]["holder"], notes["b"]["holder"], notes["b"]["lock_path"]) == (None, holder, "")
    refusal = rollout_refusal(notes)
    assert refusal["held"] == ["b"] and "alice@laptop" in refusal["message"]


def test_a_prepared_host_notes_whether_docker_and_the_proxy_are_as_configured():
    assert rollout_note({}, "prepared", dict(PREPARED, converged=True))["converged"] is True
    assert rollout_note({}, "prepared", PREPARED)["converged"] is False
    assert rollout_note(rollout_note({}, "prepared", PREPARED), "converged")["converged"] is True


def test_docker_and_the_proxy_converge_first_only_where_no_app_runs_and_they_are_not_as_configured():
    notes = {
        "new": rollout_note({}, "prepared", dict(PREPARED, app_running=False)),
        "serving": rollout_note({}, "prepared", dict(PREPARED, app_running=True)),
        "converged": rollout_note({}, "prepared", dict(PREPARED, converged=True)),
        "current": rollout_note({}, "prepared", dict(PREPARED, up_to_date=True, released=True)),
        "failed": rollout_note({}, "prepare failed", failure={"msg": "no docker"}),
        "held": rollout_note({}, "prepared", {"acquired": False, "holder": {"owner": "bob"}, "lock_path": "/l"}),
        "lost": {},
    }
    assert (notes["new"]["app_running"], notes["serving"]["app_running"]) == (False, True)
    assert rollout_tally(notes, ["lost"])["converge_first"] == ["new"]
    notes["new"] = rollout_note(notes["new"], "converged")
    assert rollout_tally(notes, ["lost"])["converge_first"] == []


def test_an_unknown_step_is_refused():
    with pytest.raises(AnsibleFilterError, match="not 'switched'"):
        rollout_note({}, "switched")


def info(digest=DIGEST, health="healthy", serving=True, proxy=True, lock=None):
    return {"app": {"digest": digest, "tags": ["v2"], "health": health, "started_at": "2026-12-02T15:00:00"},
            "previous": {"digest": OTHER}, "serving": serving, "proxy_running": proxy, "lock": lock}


@pytest.mark.parametrize(("found", "desired", "state", "ok"), [
    (info(), DIGEST, "ok", True),
    (info(health="no check"), DIGEST, "ok", True),
    (info(), "", "unknown: no release recorded", False),
    (info(digest=OTHER), DIGEST, "DRIFT: wants sha256:aaaaaaaaaaaa", False),
    (info(proxy=False, serving=False), DIGEST, "NOT SERVING: the proxy is down", False),
    (info(serving=False), DIGEST, "NOT SERVING: the proxy points elsewhere", False),
    (info(health="unhealthy"), DIGEST, "UNHEALTHY", False),
    (info(health="starting"), DIGEST, "UNHEALTHY", False),
    (info(lock={"owner": "alice@ci 2026-12-02"}), DIGEST, "ok (locked by alice@ci 2026-12-02)", True),
])
def test_each_state_a_status_row_can_say(found, desired, state, ok):
    row = status_row(found, {"digest": desired}, "web-1", "i-0abc", "healthy")
    assert row["state"] == state and row["ok"] is ok
    assert row["host"] == "web-1" and row["instance"] == "i-0abc" and row["target"] == "healthy"
    assert row["digest"] == found["app"]["digest"][:19] and row["full_digest"] == found["app"]["digest"]
    assert row["previous_digest"] == OTHER and row["tags"] == ["v2"]


GROUP = {"target_group_name": "web", "targets_health_description": [
    {"target": {"id": "i-1", "port": 443}, "target_health": {"state": "healthy"}},
    {"target": {"id": "i-2", "port": 443}, "target_health": {"state": "unhealthy", "reason": "Target.FailedHealthChecks"}}]}


@pytest.mark.parametrize(("instance", "target", "shown"), [
    ("i-2", GROUP, "unhealthy"), ("i-1", GROUP, "healthy"), ("i-9", GROUP, "not registered"),
    ("", GROUP, "not registered"), ("i-1", {}, "not registered"), ("i-1", "", ""), ("i-1", "draining", "draining"),
])
def test_a_status_row_names_the_hosts_own_health_in_the_target_group(instance, target, shown):
    assert status_row(info(), {"digest": DIGEST}, "web-1", instance, target)["target"] == shown


@pytest.mark.parametrize(("instance", "port", "health"), [
    ("i-2", 443, {"state": "unhealthy", "reason": "Target.FailedHealthChecks", "description": ""}),
    ("i-1", None, {"state": "healthy", "reason": "", "description": ""}),
    ("i-1", "443", {"state": "healthy", "reason": "", "description": ""}),
    ("i-1", 80, {"state": "not registered", "reason": "", "description": ""}),  # another port
    ("i-9", 443, {"state": "not registered", "reason": "", "description": ""}),
])
def test_the_rollout_reads_a_hosts_health_in_the_target_group_by_instance_and_port(instance, port, health):
    assert target_health(GROUP, instance, port) == health


def test_a_target_group_without_targets_or_health_holds_nobody():
    assert target_health({}, "i-1")["state"] == "not registered"
    assert target_health(None, "i-1")["state"] == "not registered"
    assert target_health({"targets_health_description": [{"target": {"id": "i-1"}, "target_health": {}}]},
                         "i-1")["state"] == "not registered"


def test_a_host_with_nothing_deployed_has_a_row_too():
    row = status_row({"app": {"exists": False, "digest": "", "tags": [], "health": "absent", "started_at": ""},
                      "previous": {}, "serving": False, "proxy_running": True, "lock": None}, {"digest": DIGEST}, "web-2")
    assert row["state"] == "DRIFT: wants sha256:aaaaaaaaaaaa" and row["ok"] is False and row["health"] == "absent"


ROWS = [{"host": "h1", "instance": "i-1", "digest": DIGEST[:19], "tags": ["v2"], "health": "healthy",
         "target": "healthy", "since": "2026-12-02T18:20:41", "state": "ok", "ok": True},
        {"host": "h2", "instance": "i-2", "digest": OTHER[:19], "tags": ["v1"], "health": "healthy",
         "target": "unhealthy", "since": "2026-12-02T18:20:52", "state": "DRIFT: wants " + DIGEST[:19], "ok": False}]


def test_the_status_report_without_a_load_balancer_has_no_such_column_and_asks_no_address():
    report = status_report([{k: v for k, v in row.items() if k != "target"} for row in ROWS], {"digest": DIGEST, "tags": ["v2"]})
    assert report["lines"][0].split() == ["HOST", "INSTANCE", "DIGEST", "TAGS", "HEALTH", "SINCE", "(UTC)", "STATE"]
    assert report["lines"][-1] == f"desired: {DIGEST} (v2); 1 of 2 hosts run it healthy"
    assert len(report["lines"]) == 4 and report["url"] == ""
    assert report["report"]["healthy"] == 1 and report["report"]["load_balancer"] == ""


def test_the_status_report_with_a_load_balancer_shows_its_targets_and_where_it_answers():
    balancer = {"dns_name": "web-1.us-east-1.elb.amazonaws.com", "tags": {"fragments-deploy:url": "https://127.0.0.1:5505"}}
    report = status_report(ROWS, {"digest": "", "tags": []}, balancer)
    assert "LOAD BALANCER" in report["lines"][0] and report["lines"][2].split()[5] == "unhealthy"
    assert report["lines"][-2:] == ["desired: unknown (); 1 of 2 hosts run it healthy",
                                    "load balancer: web-1.us-east-1.elb.amazonaws.com (https://127.0.0.1:5505)"]
    assert report["url"] == "https://127.0.0.1:5505"
    untagged = status_report(ROWS, {"digest": DIGEST, "tags": []}, {"dns_name": "web-1.example", "tags": {}})
    assert untagged["url"] == "http://web-1.example" and untagged["lines"][-1] == "load balancer: web-1.example"


HELD = {"h1": {"acquired": True, "holder": None},
        "h2": {"acquired": False, "holder": {"owner": "bob@ci", "since": "2026-12-02T18:00:00Z", "stale": False}},
        "h3": {},  # failed before it answered
        "h4": {"acquired": False, "holder": {"owner": "ann@laptop", "since": "2026-12-01T09:00:00Z", "stale": True}}}


def test_a_rollout_another_deploy_holds_is_refused_naming_each_holder_staleness_and_the_way_out():
    refusal = rollout_refusal(HELD, [], 1800, "playbooks/unlock.yml")
    assert refusal["held"] == ["h2", "h4"] and refusal["lost"] == []
    assert refusal["message"] == (
        "Another deploy holds the lock on h2, h4: h2: bob@ci since 2026-12-02T18:00:00Z; "
        "h4: ann@laptop since 2026-12-01T09:00:00Z (stale: older than 1800 s); nothing was changed. "
        "If no deploy is running, release it with: playbooks/unlock.yml.")


def test_a_rollout_with_a_host_out_of_reach_is_refused_naming_how_to_leave_it_out():
    refusal = rollout_refusal({"h1": {"holder": None}}, ["h2", "h3"])
    assert refusal["message"] == ("Could not reach h2, h3 (see UNREACHABLE above); nothing was changed. Bring the "
                                  "host back, or leave it out of this deploy with --limit '!h2'.")
    both = rollout_refusal(HELD, ["h4"])
    assert both["held"] == ["h2"] and both["message"].startswith("Could not reach h4")
    assert "Another deploy holds the lock on h2: h2: bob@ci" in both["message"]


def test_a_rollout_every_host_joined_may_start():
    assert rollout_refusal({"h1": {"acquired": True, "holder": None}, "h2": {}}) == {"held": [], "lost": [], "message": ""}


V1 = {"digest": "sha256:1", "tags": ["v1"], "released_at": "2026-12-01T10:00:00Z", "repository": "team/web"}
V2 = {"digest": "sha256:2", "tags": ["v2"], "released_at": "2026-12-01T11:00:00Z", "repository": "team/web"}
V3 = {"digest": "sha256:3", "tags": ["v3"], "released_at": "2026-12-01T12:00:00Z", "repository": "team/web"}
V2_AGAIN = dict(V2, tags=["v2-again"], released_at="2026-12-01T13:00:00Z")


@pytest.mark.parametrize("releases, running, start, target", [
    ([V3, V2, V1], ["sha256:3", "sha256:3"], V3, V2),
    # A fleet half on v3, half on v2 (an earlier rollout stopped): from the newest it runs.
    ([V3, V2, V1], ["sha256:2", "sha256:3", ""], V3, V2),
    # The newest release is not deployed yet: the fleet runs v2 and goes back to v1.
    ([V3, V2, V1], ["sha256:2"], V2, V1),
    # The same digest released again under another tag is not a step back.
    ([V2_AGAIN, V3, V2, V1], ["sha256:2"], V2_AGAIN, V3),
])
def test_a_rollback_goes_back_before_the_newest_release_the_fleet_runs(releases, running, start, target):
    plan = rollback_target(releases, running)
    assert (plan["from"], plan["to"]) == (start, target)
    assert plan["message"] == "Rolling back from %s (%s) to %s (%s), released %s." % (
        start["digest"], start["tags"][0], target["digest"], target["tags"][0], target["released_at"])


def test_a_rollback_with_nowhere_to_go_says_why():
    assert rollback_target([V2, V1], ["sha256:9", ""]) == {
        "from": None, "to": None, "message": "No host runs a recorded release of team/web; deploy one first."}
    plan = rollback_target([V3, V2, V1], ["sha256:1"])
    assert plan["to"] is None and plan["message"] == "No release is recorded before sha256:1 (v1)."
