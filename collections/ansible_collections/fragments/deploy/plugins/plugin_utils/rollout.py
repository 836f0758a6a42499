# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""A rollout on the control node: its plan, decided before any host is locked and before anything is
read (its settings and the digest asked for checked, and who it is for the locks), and the words it
notes each host's part in with (filters rollout_note and rollout_tally)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import random
import re
import socket
import time

from ansible_collections.fragments.deploy.plugins.filter.plain_http_to_public import plain_http_to_public
from ansible_collections.fragments.deploy.plugins.filter.target_health import NOT_REGISTERED
from ansible_collections.fragments.deploy.plugins.module_utils.app_host import DEPLOYED, DIGEST, UNCHANGED

# A host's outcome in a rollout, built on what app_deploy says of one change (DEPLOYED, UNCHANGED):
# not tried yet (""), already running the release or left as it was, changed to it, failed, put
# back on its previous version, or failed to be put back.
NOT_TRIED, UPDATED, FAILED, REVERTED, REVERT_FAILED = "", "updated", "failed", "reverted", "revert failed"
FAILURES = (FAILED, REVERT_FAILED)
# What a rollout notes of each host: its outcome, what went wrong, the lock it holds there (or who
# else does), the digest it ran before this rollout switched it, whether Docker and the proxy
# are as configured, and whether the app ran there when the rollout began.
FRESH_NOTE = {"outcome": NOT_TRIED, "error": "", "lock_path": "", "holder": None, "previous_digest": "",
              "converged": False, "app_running": False}


def batch_size(size, count):
    """Hosts per batch for `count` hosts; raises ValueError for a size that is none."""
    text = str(size).strip()
    match = re.match(r"([1-9][0-9]*)(%?)\Z", text)
    if not match or (match.group(2) and int(match.group(1)) > 100):
        raise ValueError("a batch size is a number of hosts above 0 or a percentage from 1%% to 100%%, not %r" % (size,))
    if match.group(2):
        return max(1, count * int(match.group(1)) // 100)
    return int(match.group(1))


def whole(value):
    """An int from an int or its decimal text; None for anything else (a bool is not a number here)."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def settings_problem(batch, max_fail_percentage, lock_stale_after):
    """The sentence that says which rollout setting to fix, or '' when all are valid."""
    try:
        batch_size(batch, 1)
        batch_ok = True
    except ValueError:
        batch_ok = False
    percent, stale = whole(max_fail_percentage), whole(lock_stale_after)
    if batch_ok and percent is not None and 0 <= percent <= 100 and stale is not None and stale > 0:
        return ""
    return ("Check the deploy settings: deploy_batch_size is a number of hosts or a percentage such as 50%% (now %s), "
            "deploy_max_fail_percentage a whole number from 0 to 100 (now %s), deploy_lock_stale_after seconds above 0 "
            "(now %s). Nothing was changed." % (batch, max_fail_percentage, lock_stale_after))


def strategy_problem(strategy, configured):
    """The refusal of a play strategy that does not keep the hosts in step, or '' for linear ones.

    The batches, the stop rule and the refusals read every host's note between two steps; a
    strategy that lets each host run ahead (free, host_pinned) would read notes not yet taken.
    strategy is the play's (its keyword, else the configured one, configured): the refusal says
    which to change."""
    name = (strategy or "linear").rsplit(".", 1)[-1]
    if name == "debug" or name.endswith("linear"):
        return ""
    where = ("unset ANSIBLE_STRATEGY or the strategy setting of ansible.cfg" if strategy == configured
             else "remove strategy: %s from the play" % strategy)
    return ("The deploy role needs a strategy that keeps the hosts in step (linear), not %s: the batches, the stop "
            "rule and the refusals read every host's state between two steps. To run it, %s. Nothing was "
            "changed." % (strategy, where))


def digest_problem(digest):
    """The sentence that says how to fix a digest asked for, or '' when it is one (or none was asked for)."""
    if not digest or DIGEST.match(digest):
        return ""
    return "deploy_digest must be sha256:<64 hex digits>, not %s. Nothing was changed." % digest


def plain_http_problem(app_urls, allowed):
    """The refusal of app addresses that are plain HTTP to the internet (users send a password or a
    token with every request), or '' when there is none or the user accepted the risk."""
    plain = plain_http_to_public(list(app_urls))
    if not plain or allowed:
        return ""
    return ("%s: plain HTTP to a public address, so every password or token would cross the internet unencrypted. "
            "Serve the app over HTTPS (the load balancer's certificate, or the proxy's: proxy_tls_certificate and "
            "proxy_tls_certificate_key) and give that https:// address, or, accepting the risk, set "
            "deploy_plain_http_allowed to true. Nothing was changed." % ", ".join(plain))


def no_target_group(name, region):
    """The refusal of a load balancer's target group that AWS does not have (the plan's and the status's)."""
    return "No target group %s in %s: check deploy_target_group and deploy_aws_region." % (name, region)


def read_target_group(execute_module, task_vars, name, region, health=False):
    """The target group `name` as community.aws.elb_target_group_info returns it (with its targets' health
    when `health`), run through an action's _execute_module, and ''; or None and why it cannot be used."""
    read = execute_module(module_name="community.aws.elb_target_group_info", task_vars=task_vars,
                          module_args={"names": [name], "collect_targets_health": health, "region": region})
    if read.get("failed"):
        return None, "Could not read the target group %s: %s" % (name, read.get("msg", "failed"))
    if not read.get("target_groups"):
        return None, no_target_group(name, region)
    return read["target_groups"][0], ""


def not_healthy_in_time(group, instance, timeout, health):
    """The failure of a host the target group did not call healthy in time, with the group's last word
    (filter target_health's state, reason and description)."""
    said = health.get("state") or NOT_REGISTERED
    details = [part for part in (health.get("reason"), health.get("description")) if part]
    return "The load balancer's target group %s did not call %s healthy within %d s: %s%s" % (
        group, instance, timeout, said, " (%s)" % ": ".join(details) if details else "")


def lock_owner(user=None, host=None, when=None, nonce=None):
    """Who a rollout is for the locks: user@host, when it started (UTC) and a number no other rollout has."""
    if user is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name and no passwd entry (some containers)
            user = ""
    if nonce is None:
        nonce = random.SystemRandom().randrange(2 ** 32)
    return "%s@%s %s %d" % (user or "someone", host or socket.gethostname(),
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)), nonce)


def whole_note(note):
    """A copy of a host's note with every key, the missing ones empty."""
    return dict(FRESH_NOTE, **(note or {}))


def reason(failure):
    """What a failed task said, in one line."""
    return str((failure or {}).get("msg") or "failed").strip()


def noted(note, step, result=None, failure=None, failed_task=""):
    """The host's note after `step` of the rollout (see filter rollout_note); the note given is not changed.
    `result` is what the step's module returned, `failure` what the failed task returned."""
    note, result = whole_note(note), result or {}
    if step == "prepared":
        # The call gives the lock back where the release serves already: nothing is left to do there.
        held = result.get("acquired") and not result.get("released")
        note.update(lock_path=result.get("lock_path", "") if held else "", holder=result.get("holder"),
                    converged=bool(result.get("converged")), app_running=bool(result.get("app_running")),
                    outcome=UNCHANGED if result.get("acquired") and result.get("up_to_date") else NOT_TRIED)
    elif step == "prepare failed":
        note.update(outcome=FAILED, error=reason(failure), lock_path=(failure or {}).get("lock_path") or "")
    elif step == "converged":
        note.update(converged=True)
    elif step == "converge failed":
        note.update(outcome=FAILED, error="%s: %s" % (failed_task, reason(failure)) if failed_task else reason(failure))
    elif step == "changed":
        note.update(outcome=UPDATED if result.get("outcome") == DEPLOYED else UNCHANGED,
                    previous_digest=result.get("previous_digest") or "")
    elif step == "change failed":
        # Where the switch was made (a load balancer that did not call the new version healthy), the host
        # goes back once the batches are done; a failed gate or switch left the previous version serving.
        switched = result.get("outcome") == DEPLOYED
        note.update(outcome=FAILED, error=reason(failure),
                    previous_digest=(result.get("previous_digest") or "") if switched else "")
    elif step == "reverted":
        back = note["previous_digest"]
        note.update(outcome=FAILED if note["outcome"] == FAILED else REVERTED, previous_digest="",
                    error=note["error"] + "; put back on " + back if note["error"] else "")
    elif step == "revert failed":
        note.update(outcome=REVERT_FAILED, error=(note["error"] + "; " if note["error"] else "")
                    + "putting back %s failed: %s" % (note["previous_digest"], reason(failure)))
    else:
        raise ValueError("a rollout step is one of prepared, prepare failed, converged, converge failed, "
                         "changed, change failed, reverted, revert failed; not %r" % (step,))
    return note
