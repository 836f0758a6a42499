# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Filters that check CIDR lists before they reach a security group."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cidr_problems
short_description: List what is wrong with a list of CIDR blocks
version_added: 0.2.0
description:
  - Returns one message per entry that is not an IPv4 or IPv6 network in CIDR notation
    (C(203.0.113.7/32), C(2001:db8::/64)), has host bits set (C(10.0.0.1/8)), or, with
    O(allow_world=false), opens to every address (C(0.0.0.0/0), C(::/0)). Empty means
    all are valid. Needs only Python's ipaddress, not netaddr.
options:
  _input:
    description: The CIDR blocks.
    type: list
    elements: str
    required: true
  name:
    description: Name of the variable, used in the messages.
    type: str
    default: cidrs
  allow_world:
    description: Whether C(0.0.0.0/0) and C(::/0) are acceptable.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Refuse SSH from anywhere
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: "{{ ['203.0.113.7/32'] | fragments.deploy.cidr_problems(name='ec2_hosts_admin_cidrs', allow_world=false) }}"
"""

RETURN = r"""
_value:
  description: One message per invalid entry; empty when all are valid.
  type: list
  elements: str
"""

import ipaddress

from ansible.errors import AnsibleFilterError


def cidr_problems(cidrs, name="cidrs", allow_world=True):
    if isinstance(cidrs, str) or not isinstance(cidrs, (list, tuple)):
        raise AnsibleFilterError("cidr_problems: %s must be a list of CIDR blocks, not %s" % (name, type(cidrs).__name__))
    problems = []
    for cidr in cidrs:
        text = str(cidr).strip()
        if "/" not in text:
            problems.append("%s: %r needs a prefix length, e.g. %s/32" % (name, text, text))
            continue
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            problems.append("%s: %r is not a CIDR block (%s)" % (name, text, exc))
            continue
        if network.prefixlen == 0 and not allow_world:
            problems.append("%s: %r opens to every address; give your own network, e.g. 203.0.113.7/32" % (name, text))
    return problems


class FilterModule(object):
    def filters(self):
        return {"cidr_problems": cidr_problems}
