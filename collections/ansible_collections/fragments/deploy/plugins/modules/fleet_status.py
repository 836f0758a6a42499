#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_status
short_description: Print a fleet's status, write it for scripts, and ask the app whether it answers
version_added: 0.5.0
description:
  - "Runs on the control node (an action plugin), once for the fleet; the deploy role's C(status) entry point
    calls it after reading every host with M(fragments.deploy.app_deploy_info). Give it C(delegate_to: localhost)
    when it reads a load balancer: the AWS modules run on the task's connection."
  - Sums each host up as a row (filter P(fragments.deploy.status_row#filter)) and the rows with the filter
    P(fragments.deploy.status_report#filter), and prints the table (or, with O(format=json), the JSON report) at any
    verbosity.
  - With O(target_group), first reads that target group and its targets' health with
    M(community.aws.elb_target_group_info), and the load balancer in front of it with
    M(amazon.aws.elb_application_lb_info) (credentials from the task's environment, as those modules take them).
  - Writes the JSON report to O(file) when given, whole or not at all (not in check mode).
  - Then asks the app once, C(GET /), through the load balancer when there is one, else at O(first_host_url), and
    prints its answer. Fails, after printing the table, when that answer is not 200 or none comes (status reports
    what really serves).
options:
  hosts:
    description: The hosts' inventory names, in play order.
    type: list
    elements: str
    required: true
  running:
    description: What M(fragments.deploy.app_deploy_info) found on each host of O(hosts), in the same order.
    type: list
    elements: dict
    required: true
  instances:
    description: Each host's EC2 instance id, in the same order (C('') where none); empty for none at all.
    type: list
    elements: str
    default: []
  wanted:
    description: What should run, C({digest, tags}); an empty digest when unknown.
    type: dict
    required: true
  target_group:
    description: The load balancer's target group the hosts serve in; empty without a load balancer.
    type: str
    default: ""
  region:
    description: The AWS region of O(target_group).
    type: str
    default: ""
  format:
    description: Print a table, or the JSON report for scripts.
    type: str
    choices: [table, json]
    default: table
  file:
    description: Also write the JSON report to this file on the control node; empty for none.
    type: str
    default: ""
  first_host_url:
    description: The first host's address for the app, asked when there is no load balancer; empty for no request.
    type: str
    default: ""
  ca_path:
    description: CA file (PEM) to trust for HTTPS; empty for the system's CAs. The certificate is always checked.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: It reads and asks the same; the file is not written.
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
- name: Print the status and ask the app through the first host
  fragments.deploy.fleet_status:
    hosts: "{{ ansible_play_hosts }}"
    running: "{{ ansible_play_hosts | map('extract', hostvars, 'app_info') | list }}"
    wanted: {digest: "{{ digest }}", tags: [v2]}
    first_host_url: https://app.example.com
    file: status.json
  run_once: true
"""

RETURN = r"""
answer:
  description: The app's answer to C(GET /), when a request was made; status null when none came.
  returned: when an address is known
  type: dict
  sample: {"url": "https://app.example.com", "status": 200, "text": "{\"status\": \"ok\"}"}
msg:
  description: >-
    What is printed, the table or (O(format=json)) the JSON report as written to O(file) (desired, hosts, healthy,
    load_balancer), then the app's answer.
  returned: always
  type: str
"""
