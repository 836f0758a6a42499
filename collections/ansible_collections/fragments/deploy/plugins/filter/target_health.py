# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""An instance's health in a load balancer's target group."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: target_health
short_description: An instance's health in a target group, as community.aws.elb_target_group_info returns it
version_added: 0.5.0
description:
  - Finds the instance among the group's C(targets_health_description) and returns its health.
  - An instance the group does not hold (on that port, when one is given) is C(not registered).
options:
  _input:
    description: >-
      One target group as C(community.aws.elb_target_group_info) returns it with C(collect_targets_health).
    type: dict
    required: true
  instance:
    description: The instance id.
    type: str
    required: true
  port:
    description: The port it is registered on; any port when not given.
    type: int
"""

EXAMPLES = r"""
- name: Read the target group
  community.aws.elb_target_group_info:
    names: [web]
    collect_targets_health: true
  register: group_read

- name: Say how the group sees this host
  ansible.builtin.debug:
    msg: "{{ (group_read.target_groups | first) | fragments.deploy.target_health(instance_id, 80) }}"
"""

RETURN = r"""
_value:
  description: >-
    C(state) (C(healthy), C(unhealthy), C(initial), C(draining), C(unused), C(unavailable) or C(not registered)),
    and C(reason) and C(description) as AWS gives them (empty when it gives none).
  type: dict
"""

NOT_REGISTERED = "not registered"


def target_health(group, instance, port=None):
    for described in (group or {}).get("targets_health_description") or []:
        target = described.get("target") or {}
        if target.get("id") == instance and (port is None or str(target.get("port")) == str(port)):
            health = described.get("target_health") or {}
            return {"state": health.get("state") or NOT_REGISTERED, "reason": health.get("reason") or "",
                    "description": health.get("description") or ""}
    return {"state": NOT_REGISTERED, "reason": "", "description": ""}


class FilterModule(object):
    def filters(self):
        return {"target_health": target_health}
