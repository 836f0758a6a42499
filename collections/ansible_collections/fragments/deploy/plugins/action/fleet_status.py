# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Action fleet_status: the deploy role's status, summed up per host, printed, written and checked
against the app (documented in modules/fleet_status.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.fragments.deploy.plugins.filter.status_report import status_report
from ansible_collections.fragments.deploy.plugins.filter.status_row import status_row
from ansible_collections.fragments.deploy.plugins.plugin_utils.fleet_status import answer_line, ask_app, write_report
from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import read_target_group

ARGUMENTS = {
    "hosts": {"type": "list", "elements": "str", "required": True},
    "running": {"type": "list", "elements": "dict", "required": True},
    "instances": {"type": "list", "elements": "str", "default": []},
    "wanted": {"type": "dict", "required": True},
    "target_group": {"type": "str", "default": ""},
    "region": {"type": "str", "default": ""},
    "format": {"type": "str", "default": "table", "choices": ["table", "json"]},
    "file": {"type": "str", "default": ""},
    "first_host_url": {"type": "str", "default": ""},
    "ca_path": {"type": "str", "default": ""},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENTS)
        hosts, instances = args["hosts"], args["instances"] or [""] * len(args["hosts"])
        if not len(hosts) == len(args["running"]) == len(instances):
            raise AnsibleActionFail("hosts, running and instances must name the same hosts in the same order "
                                    "(%d, %d and %d given)" % (len(hosts), len(args["running"]), len(instances)))
        group, balancer = self._load_balancer(args, task_vars) if args["target_group"] else ("", {})
        rows = [status_row(info, args["wanted"], host, instance, group)
                for host, info, instance in zip(hosts, args["running"], instances)]
        summed = status_report(rows, args["wanted"], balancer)
        lines = [json.dumps(summed["report"], indent=4, sort_keys=True)] if args["format"] == "json" else summed["lines"]
        # Printed at any verbosity, as debug's message is; the report is in the message (json) and the file.
        result.update(changed=False, _ansible_verbose_always=True)
        if args["file"]:
            if self._task.check_mode:
                lines.append("(check mode: %s not written)" % args["file"])
            else:
                write_report(args["file"], summed["report"])
        url = summed["url"] or args["first_host_url"]
        if url:
            who = "The load balancer" if summed["url"] else (hosts[0] if hosts else "The app")
            status, text = ask_app(url.rstrip("/") + "/", args["ca_path"])
            result["answer"] = {"url": url, "status": status, "text": text}
            lines.append(answer_line(who, status, text))
            # Status says what serves: an app that does not answer 200 fails it, after the table.
            result["failed"] = status != 200
        result["msg"] = "\n".join(lines)
        return result

    def _load_balancer(self, args, task_vars):
        """The target group with its targets' health, and the load balancer in front of it, as AWS says."""
        group, problem = read_target_group(self._execute_module, task_vars, args["target_group"], args["region"],
                                           health=True)
        if problem:
            raise AnsibleActionFail(problem)
        arns = group.get("load_balancer_arns") or []
        # Without ARNs the info module would list every load balancer: a group in front of none has none.
        balancers = self._aws("amazon.aws.elb_application_lb_info", task_vars, load_balancer_arns=arns,
                              region=args["region"])["load_balancers"] if arns else []
        return group, (balancers[0] if balancers else {})

    def _aws(self, module, task_vars, **module_args):
        answer = self._execute_module(module_name=module, module_args=module_args, task_vars=task_vars)
        if answer.get("failed"):
            raise AnsibleActionFail("%s: %s" % (module, answer.get("msg", "failed")))
        return answer
