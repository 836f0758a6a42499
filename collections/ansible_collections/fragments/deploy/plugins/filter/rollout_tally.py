# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The deploy role's tally of a rollout: which hosts failed, whether it stops, which were
tried, put back or never reached."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_tally
short_description: Tally a rollout's outcomes and apply its stop rule
version_added: 0.4.0
description:
  - Takes each host's note so far (filter P(fragments.deploy.rollout_note#filter)), that is its outcome
    (C(unchanged), C(updated), C(failed), C(reverted), C(revert failed), or empty when not tried yet), what went
    wrong there and the digest it ran before this rollout switched it; and the hosts the play lost (out of reach).
  - A host failed when its outcome is C(failed) or C(revert failed), or it was lost; a lost host's note is not
    read (it did not end this rollout's steps, and may be an earlier rollout's). The rollout
    stops once more hosts failed than O(max_fail_percentage) of all allows (0 stops at the first).
  - The hosts to put back (unless O(revert_on_failure) is false) are those that ran another version before
    this rollout changed them (the note's C(previous_digest)) and either failed after their switch (the load balancer
    did not call the new version healthy) or, once the rollout stops, were updated. A host that ran nothing
    before keeps the new version.
  - Docker and the proxy converge first, all at once (C(converge_first)), on the hosts not tried yet and not held by
    another deploy where they are not as configured and the app did not run when the rollout began, since nothing
    there has to keep serving. On the others they converge in the host's batch.
  - Nothing is left to do (C(nothing_to_do)) when every host runs the release already (C(unchanged)), none was lost
    and no note holds a lock (the prepare calls gave theirs back); the deploy role ends there.
  - The message says, once stopped, where it failed and why (the note's C(error)), what was put back and what was not
    tried; else where the release runs and on how many hosts it changed.
options:
  _input:
    description: "{host: note} for every host of the play, in play order (C({}) for one not tried)."
    type: dict
    required: true
  lost:
    description: The hosts the play dropped (unreachable).
    type: list
    elements: str
    default: []
  max_fail_percentage:
    description: Percentage of all hosts that may fail before the rollout stops.
    type: int
    default: 0
  revert_on_failure:
    description: Whether hosts are put back at all (the deploy role's C(deploy_revert_on_failure)).
    type: bool
    default: true
  release:
    description: What is rolled out, C({digest, tags}), for the message.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Decide whether the rollout goes on
  ansible.builtin.set_fact:
    tally: "{{ {'a': {'outcome': 'updated'}, 'b': {'outcome': 'failed'}, 'c': {}} | fragments.deploy.rollout_tally }}"
    # tally.stopped is true, tally.failed == ['b'], tally.not_tried == ['c']
"""

RETURN = r"""
_value:
  description: >-
    failed, lost, tried, updated, reverted, not_tried, to_revert, converge_first (lists of hosts, in play order),
    stopped and nothing_to_do (bools) and message (the rollout's outcome in a sentence or three).
  type: dict
"""

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import (
    FAILED, FAILURES, NOT_TRIED, REVERTED, UNCHANGED, UPDATED, whole_note)


def rollout_tally(notes, lost=None, max_fail_percentage=0, release=None, revert_on_failure=True):
    lost = list(lost or [])
    release = release or {}
    hosts = list(notes) + [host for host in lost if host not in notes]
    notes = dict((host, whole_note(note)) for host, note in notes.items() if host not in lost)
    outcomes = dict((host, note["outcome"]) for host, note in notes.items())
    failed = [host for host in hosts if outcomes.get(host) in FAILURES or host in lost]
    tried = [host for host in hosts if outcomes.get(host)]
    updated = [host for host in hosts if outcomes.get(host) == UPDATED]
    stopped = len(failed) * 100 > int(max_fail_percentage) * len(hosts)
    tally = {
        "failed": failed,
        "lost": lost,
        "tried": tried,
        "updated": updated,
        "reverted": [host for host in hosts if outcomes.get(host) == REVERTED],
        "not_tried": [host for host in hosts if host not in tried and host not in lost],
        "stopped": stopped,
        "to_revert": [host for host in notes if revert_on_failure and notes[host]["previous_digest"] and (
            outcomes[host] == FAILED or stopped and outcomes[host] == UPDATED)],
        "converge_first": [host for host in notes if outcomes[host] == NOT_TRIED and not notes[host]["holder"]
                           and not notes[host]["converged"] and not notes[host]["app_running"]],
        "nothing_to_do": bool(notes) and not lost and all(
            note["outcome"] == UNCHANGED and not note["lock_path"] for note in notes.values()),
    }
    tally["message"] = message(tally, hosts, dict((host, note["error"]) for host, note in notes.items()), release)
    return tally


def message(tally, hosts, errors, release):
    digest = release.get("digest", "")
    if tally["stopped"]:
        failures = ["%s (%s)" % (host, "out of reach" if host in tally["lost"] else errors.get(host) or "failed")
                    for host in tally["failed"]]
        return ("The rollout%s stopped. Failed: %s. Put back on their previous version: %s. Not tried: %s."
                % (" of " + digest if digest else "", ", ".join(failures), ", ".join(tally["reverted"]) or "none",
                   ", ".join(tally["not_tried"]) or "none"))
    serving = [host for host in hosts if host not in tally["failed"]]
    return "%s (%s) runs on %s; changed on %d of %d%s." % (
        digest, ", ".join(release.get("tags") or []), ", ".join(serving), len(tally["updated"]), len(hosts),
        ", failed on " + ", ".join(tally["failed"]) if tally["failed"] else "")


class FilterModule(object):
    def filters(self):
        return {"rollout_tally": rollout_tally}
