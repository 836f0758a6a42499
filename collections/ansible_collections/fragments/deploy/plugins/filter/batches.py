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

import re

from ansible.errors import AnsibleFilterError


def batch_size(size, count):
    """Hosts per batch for `count` hosts; raises ValueError for a size that is none."""
    text = str(size).strip()
    match = re.match(r"^([1-9][0-9]*)(%?)$", text)
    if not match or (match.group(2) and int(match.group(1)) > 100):
        raise ValueError("a batch size is a number of hosts above 0 or a percentage from 1%% to 100%%, not %r" % (size,))
    if match.group(2):
        return max(1, count * int(match.group(1)) // 100)
    return int(match.group(1))


def batches(hosts, size):
    try:
        step = batch_size(size, len(hosts))
    except ValueError as exc:
        raise AnsibleFilterError("batches: %s" % exc)
    return [list(hosts[start:start + step]) for start in range(0, len(hosts), step)]


class FilterModule(object):
    def filters(self):
        return {"batches": batches}
