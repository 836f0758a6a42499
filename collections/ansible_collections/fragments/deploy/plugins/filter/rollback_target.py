# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The deploy role's rollback: which recorded release the fleet goes back to."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollback_target
short_description: Choose the release a rollback goes back to
version_added: 0.5.0
description:
  - Takes the recorded releases, newest first (the release role's C(release_result) then C(release_history)),
    and the digests the fleet's hosts run.
  - The rollback starts from the newest recorded release any host runs and goes to the newest release recorded
    before it with another digest. When there is none, C(to) is empty and C(message) says why.
options:
  _input:
    description: The recorded releases, newest first, each with digest, tags and released_at.
    type: list
    elements: dict
    required: true
  running:
    description: The digests the hosts run (empty strings where nothing runs).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse when there is nothing to go back to
  ansible.builtin.assert:
    that: __plan.to
    fail_msg: "{{ __plan.message }}"
  vars:
    __plan: "{{ ([release_result] + release_history) | fragments.deploy.rollback_target(running_digests) }}"
"""

RETURN = r"""
_value:
  description: >-
    from (the release the fleet runs, or None), to (the release it goes back to, or None) and message (where it
    goes, or why it cannot).
  type: dict
"""


def describe(release):
    return "%s (%s)" % (release["digest"], ", ".join(release.get("tags") or []))


def rollback_target(releases, running):
    running = set(digest for digest in running if digest)
    current = next((release for release in releases if release["digest"] in running), None)
    if current is None:
        repository = releases[0].get("repository", "the app") if releases else "the app"
        return {"from": None, "to": None, "message": "No host runs a recorded release of %s; deploy one first." % repository}
    older = [release for release in releases
             if release["released_at"] < current["released_at"] and release["digest"] != current["digest"]]
    if not older:
        return {"from": current, "to": None, "message": "No release is recorded before %s." % describe(current)}
    target = older[0]
    return {"from": current, "to": target, "message": "Rolling back from %s to %s, released %s."
            % (describe(current), describe(target), target["released_at"])}


class FilterModule(object):
    def filters(self):
        return {"rollback_target": rollback_target}
