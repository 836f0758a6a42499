# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Keep the AWS resources that carry every given tag."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tagged
short_description: Keep the AWS resources that carry every given tag
version_added: 0.3.0
description:
  - From a list of resources as the amazon.aws and community.aws info modules return them,
    each with a C(tags) dict, keeps those whose tags hold every key of O(tags) with the same
    value. Teardown uses it to delete only what is ours.
options:
  _input:
    description: The resources.
    type: list
    elements: dict
    required: true
  tags:
    description: The tags a resource must carry.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Our load balancers
  ansible.builtin.debug:
    msg: "{{ found.load_balancers | fragments.deploy.tagged({'Project': 'fragments', 'ManagedBy': 'fragments-deploy'}) }}"
"""

RETURN = r"""
_value:
  description: The resources that carry every tag.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError


def tagged(resources, tags):
    if not isinstance(tags, dict) or not tags:
        raise AnsibleFilterError("tagged: give the tags to look for as a non-empty dict")
    return [resource for resource in resources
            if all((resource.get("tags") or {}).get(key) == value for key, value in tags.items())]


class FilterModule(object):
    def filters(self):
        return {"tagged": tagged}
