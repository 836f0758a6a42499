# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Check the options of fragments.deploy.app_deploy on the control node."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: app_deploy_problems
short_description: List what is wrong with the options of fragments.deploy.app_deploy
version_added: 0.3.0
description:
  - Checks a dict of M(fragments.deploy.app_deploy) options the way the module itself does
    (types, then the rules between them), on the control node, so a rollout can refuse bad
    settings before it locks or touches any host. One message per problem; empty when all
    are valid.
options:
  _input:
    description: The module's options, as a dict.
    type: dict
    required: true
  prefix:
    description: Put in front of each option's name in the messages, e.g. C(container_app_) for a role whose variables are that prefix and the option.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Refuse bad settings before any host is locked
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: "{{ {'name': 'web', 'image': 'docker.io/alice/web:latest', 'digest': ''} | fragments.deploy.app_deploy_problems }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the options are valid.
  type: list
  elements: str
"""

import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.fragments.deploy.plugins.module_utils.app_settings import ARGUMENT_SPEC, problems


def app_deploy_problems(options, prefix=""):
    if not isinstance(options, dict):
        raise AnsibleFilterError("app_deploy_problems: expects a dict of options, not %s" % type(options).__name__)
    # Plain data: Ansible's lazy containers carry the whole templating context, which the
    # validator's deep copy would copy too (0.5 s measured).
    params = json.loads(json.dumps(options))
    # Validated under the prefixed names, so that Ansible's own messages name the caller's variables.
    spec = dict((prefix + name, option) for name, option in ARGUMENT_SPEC.items())
    result = ArgumentSpecValidator(spec).validate(dict((prefix + name, value) for name, value in params.items()))
    if result.error_messages:
        return list(result.error_messages)
    validated = dict((name[len(prefix):], value) for name, value in result.validated_parameters.items())
    return problems(validated, prefix, digest_required=False)


class FilterModule(object):
    def filters(self):
        return {"app_deploy_problems": app_deploy_problems}
