# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Which hosts another deploy holds, from each host's answer to app_prepare."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lock_holders
short_description: Name the hosts another deploy holds the lock of, and who holds each
version_added: 0.5.0
description:
  - Takes each host's result of M(fragments.deploy.app_prepare) (C({}) where it has none) and returns the
    hosts whose lock someone else holds, with a sentence naming each holder, since when and whether the lock
    is stale.
options:
  _input:
    description: "{host: app_prepare result}, in play order."
    type: dict
    required: true
  stale_after:
    description: Seconds after which a lock counts as stale (only for the sentence).
    type: int
    default: 1800
"""

EXAMPLES = r"""
- name: Stop when another deploy holds a host
  ansible.builtin.fail:
    msg: "{{ (results | fragments.deploy.lock_holders(1800)).message }}"
  when: (results | fragments.deploy.lock_holders(1800)).hosts
"""

RETURN = r"""
_value:
  description: hosts (held by another deploy, in play order) and message (empty when none).
  type: dict
"""


def lock_holders(results, stale_after=1800):
    held = [(host, result["holder"]) for host, result in results.items()
            if isinstance(result, dict) and result.get("holder")]
    parts = ["%s: %s since %s%s" % (host, holder.get("owner"), holder.get("since"),
                                    " (stale: older than %s s)" % stale_after if holder.get("stale") else "")
             for host, holder in held]
    hosts = [host for host, holder in held]
    message = "Another deploy holds the lock on %s: %s;" % (", ".join(hosts), "; ".join(parts)) if held else ""
    return {"hosts": hosts, "message": message}


class FilterModule(object):
    def filters(self):
        return {"lock_holders": lock_holders}
