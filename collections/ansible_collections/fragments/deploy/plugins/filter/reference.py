# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Filters that check image names and tags against Docker's reference grammar."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: reference_problems
short_description: List what is wrong with an image registry, repository and tags
version_added: 0.1.0
description:
  - Checks a registry host, a repository and a list of tags against Docker's reference
    grammar (distribution/reference) and returns one message per problem, naming the
    value and the rule it breaks. An empty list means all are valid.
options:
  _input:
    description: The repository, e.g. C(alice/fragments).
    type: str
    required: true
  registry:
    description: Registry host[:port]; empty skips the check.
    type: str
    default: ""
  tags:
    description: Tags to check.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse bad names before building
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: "{{ 'alice/fragments' | fragments.deploy.reference_problems(registry='docker.io', tags=['latest', 'lab-6']) }}"
"""

RETURN = r"""
_value:
  description: One message per invalid value; empty when all are valid.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.fragments.deploy.plugins.module_utils import reference


def reference_problems(repository, registry="", tags=None):
    tags = tags or []
    if not isinstance(tags, (list, tuple)):
        raise AnsibleFilterError("reference_problems: tags must be a list, not %s" % type(tags).__name__)
    problems = [reference.registry_problem(registry)] if registry else []
    problems.append(reference.repository_problem(repository))
    problems.extend(reference.tag_problem(tag) for tag in tags)
    return [problem for problem in problems if problem]


class FilterModule(object):
    def filters(self):
        return {"reference_problems": reference_problems}
