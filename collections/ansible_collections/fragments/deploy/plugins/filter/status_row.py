# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""One host's line of the deploy role's status: what serves there, and whether it is what
should."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: status_row
short_description: One host's status row from what fragments.deploy.app_deploy_info found there
version_added: 0.4.0
description:
  - Sums up a host for the status table, from the result of M(fragments.deploy.app_deploy_info)
    and the release that should run.
  - "The state is the first that holds of C(unknown: no release recorded), C(DRIFT: wants <digest>),
    C(NOT SERVING: the proxy is down), C(NOT SERVING: the proxy points elsewhere) (nginx, as
    loaded, does not send the traffic to the app), C(ok) (healthy or without a check) and
    C(UNHEALTHY); a held deploy lock is added in brackets. C(ok) is true only for C(ok)."
options:
  _input:
    description: The result of M(fragments.deploy.app_deploy_info) on the host.
    type: dict
    required: true
  desired:
    description: The release that should run, with its C(digest) (empty when none is recorded).
    type: dict
    required: true
  host:
    description: The host's inventory name.
    type: str
    required: true
  instance:
    description: Its instance id, if any.
    type: str
    default: ""
  target:
    description: >-
      The load balancer's target group as C(community.aws.elb_target_group_info) returns it with
      C(collect_targets_health) (the host's health there is looked up by O(instance); C(not registered)
      when absent), or that health as a string, or empty without a load balancer.
    type: raw
    default: ""
"""

EXAMPLES = r"""
- name: Sum the host up
  ansible.builtin.set_fact:
    deploy_status_row: "{{ info | fragments.deploy.status_row({'digest': wanted}, inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: host, instance, digest (19 characters), tags, health, since, target, state, ok, full_digest,
    previous_digest.
  type: dict
"""

from ansible_collections.fragments.deploy.plugins.filter.target_health import target_health

HEALTHY = ("healthy", "no check")


def state_of(info, desired_digest):
    app = info.get("app") or {}
    if not desired_digest:
        state = "unknown: no release recorded"
    elif app.get("digest") != desired_digest:
        state = "DRIFT: wants " + desired_digest[:19]
    elif not info.get("proxy_running"):
        state = "NOT SERVING: the proxy is down"
    elif not info.get("serving"):
        state = "NOT SERVING: the proxy points elsewhere"
    elif app.get("health") in HEALTHY:
        state = "ok"
    else:
        state = "UNHEALTHY"
    lock = info.get("lock")
    return state + (" (locked by %s)" % lock.get("owner", "?") if lock else "")


def status_row(info, desired, host, instance="", target=""):
    app, previous = info.get("app") or {}, info.get("previous") or {}
    target = target_health(target, instance)["state"] if isinstance(target, dict) else target
    wanted = (desired or {}).get("digest") or ""
    return {
        "host": host, "instance": instance or "", "digest": (app.get("digest") or "")[:19], "tags": app.get("tags") or [],
        "health": app.get("health", "absent"), "since": app.get("started_at") or "", "target": target or "",
        "state": state_of(info, wanted),
        "ok": bool(wanted) and app.get("digest") == wanted and bool(info.get("serving")) and app.get("health") in HEALTHY,
        "full_digest": app.get("digest") or "", "previous_digest": previous.get("digest") or "",
    }


class FilterModule(object):
    def filters(self):
        return {"status_row": status_row}
