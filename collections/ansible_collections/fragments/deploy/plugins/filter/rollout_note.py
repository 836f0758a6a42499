# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The deploy role's note of one host in a rollout, after each of its steps."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_note
short_description: A host's note in a rollout after one of its steps
version_added: 0.5.0
description:
  - The deploy role keeps one note per host for a rollout, C({outcome, error, lock_path, holder, previous_digest,
    converged, app_running}), and passes it through this filter after each step; filter
    P(fragments.deploy.rollout_tally#filter) tallies the notes.
  - "The outcome is C('') (not tried yet), C(unchanged), C(updated), C(failed), C(reverted) or C(revert failed)."
  - "Steps: C(prepared) (the first, on an empty note; O(result) is M(fragments.deploy.app_prepare)'s: the lock
    held unless the call gave it back, or who else holds it, whether Docker and the proxy are as configured,
    whether the app runs there, C(unchanged) where the release serves already); C(prepare failed) (the first too);
    C(converged); C(converge failed); C(changed) (O(result) is M(fragments.deploy.app_deploy)'s: C(updated) when it
    deployed, with the digest it ran before); C(change failed) (the digest to go back to only when O(result) says the switch was
    made); C(reverted) (a failed host stays failed); C(revert failed)."
  - Errors name the failed task (O(failed_task)) for C(converge failed), and a put-back adds to the error it follows.
options:
  _input:
    description: The host's note so far (missing keys start empty).
    type: dict
    required: true
  step:
    description: The step that just ended.
    type: str
    required: true
  result:
    description: What the step's module returned (C(prepared), C(changed), C(change failed)).
    type: dict
    default: {}
  failure:
    description: What the failed task returned (C(ansible_failed_result)), for the steps that failed.
    type: dict
    default: {}
  failed_task:
    description: The failed task's name, for C(converge failed).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Note what changed here
  ansible.builtin.set_fact:
    note: "{{ note | fragments.deploy.rollout_note('changed', deployed) }}"
"""

RETURN = r"""
_value:
  description: The note after the step, C({outcome, error, lock_path, holder, previous_digest, converged, app_running}).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import noted


def rollout_note(note, step, result=None, failure=None, failed_task=""):
    try:
        return noted(note, step, result, failure, failed_task)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"rollout_note": rollout_note}
