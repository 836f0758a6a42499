# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Action rollout_plan: the deploy role's plan, on the control node (documented in modules/rollout_plan.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import (
    digest_problem, lock_owner, plain_http_problem, read_target_group, settings_problem)

ARGUMENTS = {
    "batch_size": {"type": "raw", "required": True},
    "max_fail_percentage": {"type": "raw", "required": True},
    "lock_stale_after": {"type": "raw", "required": True},
    "hosts": {"type": "list", "elements": "str", "required": True},
    "group": {"type": "str", "required": True},
    "digest": {"type": "str", "default": ""},
    "digest_tags": {"type": "list", "elements": "str", "default": []},
    "app_urls": {"type": "list", "elements": "str", "default": []},
    "plain_http_allowed": {"type": "bool", "default": False},
    "target_group": {"type": "str", "default": ""},
    "region": {"type": "str", "default": "us-east-1"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENTS)
        result["changed"] = False
        problem = settings_problem(args["batch_size"], args["max_fail_percentage"], args["lock_stale_after"])
        if not problem and not args["hosts"]:
            problem = ("The inventory has no host in the group %s: check the -i options and that the hosts are "
                       "running. Nothing was changed." % args["group"])
        problem = (problem or digest_problem(args["digest"])
                   or plain_http_problem(args["app_urls"], args["plain_http_allowed"]))
        if not problem and args["target_group"]:
            problem = self._target_group_problem(args, task_vars)
        if problem:
            result.update(failed=True, msg=problem)
            return result
        result["ansible_facts"] = {"deploy_lock_owner": lock_owner()}
        if args["digest"]:
            result["ansible_facts"]["deploy_target"] = {"digest": args["digest"], "tags": args["digest_tags"]}
        return result

    def _target_group_problem(self, args, task_vars):
        """Why the target group cannot be used, or '' when AWS has it."""
        dummy, problem = read_target_group(self._execute_module, task_vars, args["target_group"], args["region"])
        return problem + " Nothing was changed." if problem else ""
