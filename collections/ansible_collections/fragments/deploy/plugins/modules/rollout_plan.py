#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollout_plan
short_description: Check a rollout's settings, hosts and digest before anything is read or locked
version_added: 0.5.0
description:
  - Runs on the control node only (an action plugin) and changes nothing. The deploy role calls it first in
    its plan, so every refusal comes before the release record or the registry is read and before any lock.
  - Refuses, saying what to fix, a batch size that is neither a number of hosts above 0 nor a percentage from 1%
    to 100%, a fail percentage outside 0 to 100, a lock age that is not above 0, a group without hosts, and a
    digest asked for that is not C(sha256:) and 64 hex digits.
  - Refuses app addresses (O(app_urls)) that are plain HTTP to a public address, where every password or token
    would cross the internet unencrypted, unless O(plain_http_allowed).
  - With O(target_group), refuses a load balancer's target group that does not exist in O(region), read with
    M(community.aws.elb_target_group_info) where the task runs (delegate it to the control node, with the AWS
    environment), once every other check passed.
  - Sets the fact C(deploy_lock_owner), who this rollout is for the locks (user@host, start time in UTC and a
    random number, so two rollouts never share it), and, when O(digest) is given, C(deploy_target) (C(digest)
    and C(tags)).
options:
  batch_size:
    description: Hosts changed at once, a number or a percentage such as C(50%).
    type: raw
    required: true
  max_fail_percentage:
    description: Failed hosts tolerated, in percent of all hosts.
    type: raw
    required: true
  lock_stale_after:
    description: Seconds after which a lock counts as stale.
    type: raw
    required: true
  hosts:
    description: The hosts of the rollout's group.
    type: list
    elements: str
    required: true
  group:
    description: The group's name, for the refusal of an empty one.
    type: str
    required: true
  digest:
    description: The digest asked for, if any (else the role pins a tag or reads the release record after).
    type: str
    default: ""
  digest_tags:
    description: The tags of O(digest), for the records.
    type: list
    elements: str
    default: []
  app_urls:
    description: Each host's address of the app (the deploy role's C(deploy_app_url)); empty entries are skipped.
    type: list
    elements: str
    default: []
  plain_http_allowed:
    description: Take plain HTTP to a public address in O(app_urls), accepting the risk.
    type: bool
    default: false
  target_group:
    description: The load balancer's target group the hosts join (the deploy role's C(deploy_target_group)); none when empty.
    type: str
    default: ""
  region:
    description: The AWS region of O(target_group).
    type: str
    default: us-east-1
attributes:
  check_mode:
    support: full
    description: It changes nothing, so it runs the same in check mode.
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
- name: Settle the digest, and who this deploy is for the locks
  fragments.deploy.rollout_plan:
    batch_size: "50%"
    max_fail_percentage: 0
    lock_stale_after: 1800
    hosts: "{{ groups['fragments_hosts'] | default([]) }}"
    group: fragments_hosts
    digest: "{{ deploy_digest }}"
  run_once: true
"""

RETURN = r"""
ansible_facts:
  description: The plan.
  returned: success
  type: complex
  contains:
    deploy_target:
      description: What the rollout rolls out, when O(digest) is given.
      type: dict
      sample: {"digest": "sha256:9f2c...", "tags": ["lab-6", "latest", "3f1a2b4"]}
    deploy_lock_owner:
      description: Who this rollout is for the locks.
      type: str
      sample: "alice@ci 2026-12-03T12:00:00Z 3141592653"
"""
