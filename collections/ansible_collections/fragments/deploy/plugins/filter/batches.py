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
  - With O(through), only the batches up to and including that host's own, the ones the host
    includes in a rolling deploy (a prefix of the same list on every host keeps their order).
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
  through:
    description: A host of the list; the batches after its own are left out. Empty, all batches.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Show the batches
  ansible.builtin.debug:
    msg: "{{ ['a', 'b', 'c', 'd', 'e'] | fragments.deploy.batches('40%') }}"  # [[a, b], [c, d], [e]]

- name: Show the batches up to host c's
  ansible.builtin.debug:
    msg: "{{ ['a', 'b', 'c', 'd', 'e'] | fragments.deploy.batches('40%', through='c') }}"  # [[a, b], [c, d]]
"""

RETURN = r"""
_value:
  description: The batches, each a list of hosts.
  type: list
  elements: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import batch_size


def batches(hosts, size, through=""):
    hosts = list(hosts)
    try:
        step = batch_size(size, len(hosts))
    except ValueError as exc:
        raise AnsibleFilterError("batches: %s" % exc)
    if through and through not in hosts:
        raise AnsibleFilterError("batches: through=%r is not one of the hosts" % (through,))
    end = (hosts.index(through) // step + 1) * step if through else len(hosts)
    return [hosts[start:start + step] for start in range(0, end, step)]


class FilterModule(object):
    def filters(self):
        return {"batches": batches}
