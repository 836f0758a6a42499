# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Split hosts into the batches of a rolling deploy."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: batches
short_description: Split a list of hosts into the batches of a rolling deploy
version_added: 0.3.0
description:
  - Splits the hosts, in their order, into consecutive batches of O(size) hosts, as a play's
    C(serial) keyword would, by a number of hosts or a percentage of them (rounded down, at
    least one host).
options:
  _input:
    description: The hosts.
    type: list
    elements: str
    required: true
  size:
    description: Hosts per batch, C(2), or a percentage of them, C(50%).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Show the batches
  ansible.builtin.debug:
    msg: "{{ ['a', 'b', 'c', 'd', 'e'] | fragments.deploy.batches('40%') }}"  # [[a, b], [c, d], [e]]
"""

RETURN = r"""
_value:
  description: The batches, each a list of hosts.
  type: list
  elements: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import batch_size


def batches(hosts, size):
    try:
        step = batch_size(size, len(hosts))
    except ValueError as exc:
        raise AnsibleFilterError("batches: %s" % exc)
    return [list(hosts[start:start + step]) for start in range(0, len(hosts), step)]


class FilterModule(object):
    def filters(self):
        return {"batches": batches}
