# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Action target_group_join: put a host in a load balancer's target group and wait until the group
calls it healthy (documented in modules/target_group_join.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.plugins.action import ActionBase

from ansible_collections.fragments.deploy.plugins.filter.target_health import NOT_REGISTERED, target_health
from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import not_healthy_in_time, read_target_group

ARGUMENTS = {
    "target_group": {"type": "str", "required": True},
    "instance": {"type": "str", "required": True},
    "port": {"type": "int", "required": True},
    "region": {"type": "str", "default": "us-east-1"},
    "timeout": {"type": "int", "default": 300},
}
PAUSE = 2  # seconds between two reads of the group


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENTS)
        group, instance, port = args["target_group"], args["instance"], args["port"]
        # Read first: a host changing versions is in the group already (no registration to make), and a
        # group that does not exist is named at once (elb_target retries its name for minutes).
        health, problem = self._health(args, task_vars)
        if problem:
            result.update(failed=True, msg=problem)
            return result
        registered = health["state"] != NOT_REGISTERED
        result["changed"] = not registered
        if self._task.check_mode:
            result["_ansible_verbose_always"] = True  # what --check found, printed as debug's message is
            result["msg"] = ("%s is in the target group %s: %s" % (instance, group, health["state"]) if registered
                             else "check mode: %s would join the target group %s" % (instance, group))
            return result
        if not registered:
            joined = self._execute_module(module_name="community.aws.elb_target", task_vars=task_vars, module_args={
                "target_group_name": group, "target_id": instance, "target_port": port, "state": "present",
                "region": args["region"]})
            if joined.get("failed"):
                result.update(failed=True, msg="Could not put %s in the target group %s: %s"
                              % (instance, group, joined.get("msg", "failed")))
                return result
        # Waited for here, not with elb_target's target_status: that waits only for a target it
        # registers, and a host changing versions is registered already.
        deadline = time.monotonic() + args["timeout"]
        while health["state"] != "healthy" and time.monotonic() < deadline:
            time.sleep(PAUSE)
            health, problem = self._health(args, task_vars)
            if problem:
                result.update(failed=True, msg=problem)
                return result
        result["target_health"] = health
        if health["state"] != "healthy":
            result.update(failed=True, msg=not_healthy_in_time(group, instance, args["timeout"], health))
        return result

    def _health(self, args, task_vars):
        """The instance's health in the group (filter target_health), or why the group cannot be read."""
        group, problem = read_target_group(self._execute_module, task_vars, args["target_group"], args["region"],
                                           health=True)
        return (None, problem) if problem else (target_health(group, args["instance"], args["port"]), "")
