# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The deploy role's rule before any change: a rollout that would leave hosts out (out of reach,
or held by another deploy) is refused, naming each and what to do."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_refusal
short_description: Refuse a rollout some hosts could not join, naming them and what to do
version_added: 0.5.0
description:
  - Takes each host's note (filter P(fragments.deploy.rollout_note#filter), whose C(holder) is the other deploy
    holding the host's lock, as M(fragments.deploy.app_prepare) found it), or that module's result itself (C({})
    where there is none), and the hosts the play lost (out of reach). A rollout that starts without some of its
    hosts would leave the fleet split, so any such host refuses it.
  - The message names the hosts out of reach and how to leave one out, and the hosts another deploy holds,
    with each holder, since when and whether the lock is stale, and how to release it.
options:
  _input:
    description: "{host: note or app_prepare result}, in play order."
    type: dict
    required: true
  lost:
    description: The hosts the play dropped (unreachable).
    type: list
    elements: str
    default: []
  stale_after:
    description: Seconds after which a lock counts as stale (only for the sentence).
    type: int
    default: 1800
  unlock_command:
    description: How a user releases a lock a dead deploy left (named in the sentence).
    type: str
    default: the unlock entry point of the role fragments.deploy.deploy
"""

EXAMPLES = r"""
- name: Stop before any change when a host is out of reach or another deploy holds one
  ansible.builtin.fail:
    msg: "{{ (notes | fragments.deploy.rollout_refusal(lost_hosts)).message }}"
  when: (notes | fragments.deploy.rollout_refusal(lost_hosts)).message
"""

RETURN = r"""
_value:
  description: >-
    held (the hosts another deploy holds, in play order), lost and message (empty when the rollout may
    start).
  type: dict
"""


def rollout_refusal(results, lost=None, stale_after=1800,
                    unlock_command="the unlock entry point of the role fragments.deploy.deploy"):
    lost = list(lost or [])
    held = [(host, result["holder"]) for host, result in results.items()
            if isinstance(result, dict) and result.get("holder") and host not in lost]
    held_hosts = [host for host, _holder in held]
    sentences = []
    if lost:
        sentences.append("Could not reach %s (see UNREACHABLE above); nothing was changed. Bring the host back, or "
                         "leave it out of this deploy with --limit '!%s'." % (", ".join(lost), lost[0]))
    if held:
        holders = ["%s: %s since %s%s" % (host, holder.get("owner"), holder.get("since"),
                                          " (stale: older than %s s)" % stale_after if holder.get("stale") else "")
                   for host, holder in held]
        sentences.append("Another deploy holds the lock on %s: %s; nothing was changed. If no deploy is running, "
                         "release it with: %s." % (", ".join(held_hosts), "; ".join(holders), unlock_command))
    return {"held": held_hosts, "lost": lost, "message": " ".join(sentences)}


class FilterModule(object):
    def filters(self):
        return {"rollout_refusal": rollout_refusal}
