#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: target_group_join
short_description: Put a host in a load balancer's target group and wait until the group calls it healthy
version_added: 0.5.0
description:
  - "Runs on the control node (an action plugin). Give it C(delegate_to: localhost): the AWS modules run on the
    task's connection, with the task's environment for credentials and endpoint."
  - Reads the group's health with M(community.aws.elb_target_group_info); registers the instance on the port with
    M(community.aws.elb_target) only when the group does not hold it there (the one change it makes); then reads
    the health again every 2 seconds until the group calls the instance C(healthy), or O(timeout) seconds have
    passed.
  - Fails, with the group's last word on the instance (state, reason, description), when it is not healthy by then;
    also when the group does not exist (at once) or cannot be read, or the instance cannot be registered (a
    stopped instance cannot).
  - The wait is its own, not elb_target's O(community.aws.elb_target#module:target_status), which waits only for a
    target it registers itself; a host that changes versions is registered already.
  - The group's health is the load balancer's last verdict. An instance that stays registered and keeps answering
    the load balancer's checks reads healthy at once.
options:
  target_group:
    description: The target group's name.
    type: str
    required: true
  instance:
    description: The instance id to register.
    type: str
    required: true
  port:
    description: The port the load balancer sends its traffic to on the instance.
    type: int
    required: true
  region:
    description: The AWS region of the target group.
    type: str
    default: us-east-1
  timeout:
    description: Seconds the instance gets to be called healthy.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    description: Reads the group and says whether it would register the instance; registers nothing, waits for nothing.
  diff_mode:
    support: none
    description: Nothing to show.
  action:
    support: full
    description: An action plugin, on the control node.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Put this host in the target group and wait until the group calls it healthy
  fragments.deploy.target_group_join:
    target_group: fragments-production
    instance: "{{ instance_id }}"
    port: 80
    region: us-east-1
    timeout: 300
  delegate_to: localhost
  become: false
"""

RETURN = r"""
target_health:
  description: The group's last word on the instance.
  returned: when the group was read
  type: dict
  sample: {"state": "unhealthy", "reason": "Target.FailedHealthChecks", "description": "Health checks failed"}
"""
