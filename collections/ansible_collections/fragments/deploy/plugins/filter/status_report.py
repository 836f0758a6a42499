# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The deploy role's status of the fleet: its table and its JSON report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: status_report
short_description: Sum a fleet's status rows up as a table and a JSON report
version_added: 0.5.0
description:
  - Takes every host's status row (filter P(fragments.deploy.status_row#filter)), what should run and the load
    balancer in front (empty without one).
  - The table has a LOAD BALANCER column only with a load balancer; a summary line follows the rows,
    then the load balancer's DNS name and the address it is tagged with (C(fragments-deploy:url)).
options:
  _input:
    description: The hosts' status rows, in play order.
    type: list
    elements: dict
    required: true
  wanted:
    description: What should run, C({digest, tags}); an empty digest when unknown.
    type: dict
    required: true
  load_balancer:
    description: The load balancer as amazon.aws.elb_application_lb_info returns it (dns_name, tags), or C({}).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Print the status
  ansible.builtin.debug:
    msg: "{{ (rows | fragments.deploy.status_report({'digest': digest, 'tags': ['v2']})).lines | join('\n') }}"
"""

RETURN = r"""
_value:
  description: >-
    lines (the table, the summary, the load balancer), report (desired, hosts, healthy, load_balancer: what
    status writes as JSON) and url (where to ask the app through the load balancer; empty without one).
  type: dict
"""

from ansible_collections.fragments.deploy.plugins.filter.status_table import status_table

URL_TAG = "fragments-deploy:url"


def status_report(rows, wanted, load_balancer=None):
    balancer = load_balancer or {}
    healthy = len([row for row in rows if row.get("ok")])
    columns = ([["host", "HOST"], ["instance", "INSTANCE"], ["digest", "DIGEST"], ["tags", "TAGS"], ["health", "HEALTH"]]
               + ([["target", "LOAD BALANCER"]] if balancer else [])
               + [["since", "SINCE (UTC)"], ["state", "STATE"]])
    lines = status_table(rows, columns) + [
        "desired: %s (%s); %d of %d hosts run it healthy"
        % (wanted.get("digest") or "unknown", ", ".join(wanted.get("tags") or []), healthy, len(rows))]
    tagged = (balancer.get("tags") or {}).get(URL_TAG, "")
    if balancer:
        lines.append("load balancer: %s%s" % (balancer.get("dns_name", ""), " (%s)" % tagged if tagged else ""))
    return {
        "lines": lines,
        "report": {"desired": wanted, "hosts": rows, "healthy": healthy,
                   "load_balancer": balancer.get("dns_name", "")},
        # A custom domain (the lab's address) is tagged on the load balancer; else its DNS name.
        "url": (tagged or "http://%s" % balancer["dns_name"]) if balancer.get("dns_name") else "",
    }


class FilterModule(object):
    def filters(self):
        return {"status_report": status_report}
