# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Action fleet_status: the deploy role's status, printed, written and checked against the app
(documented in modules/fleet_status.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.plugins.action import ActionBase

from ansible_collections.fragments.deploy.plugins.filter.status_report import status_report
from ansible_collections.fragments.deploy.plugins.plugin_utils.fleet_status import answer_line, ask_app, write_report

ARGUMENTS = {
    "rows": {"type": "list", "elements": "dict", "required": True},
    "wanted": {"type": "dict", "required": True},
    "load_balancer": {"type": "dict", "default": {}},
    "format": {"type": "str", "default": "table", "choices": ["table", "json"]},
    "file": {"type": "str", "default": ""},
    "first_host_url": {"type": "str", "default": ""},
    "ca_path": {"type": "str", "default": ""},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENTS)
        summed = status_report(args["rows"], args["wanted"], args["load_balancer"])
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
            who = "The load balancer" if summed["url"] else (args["rows"][0]["host"] if args["rows"] else "The app")
            status, text = ask_app(url.rstrip("/") + "/", args["ca_path"])
            result["answer"] = {"url": url, "status": status, "text": text}
            lines.append(answer_line(who, status, text))
            # Status says what serves: an app that does not answer 200 fails it, after the table.
            result["failed"] = status != 200
        result["msg"] = "\n".join(lines)
        return result
