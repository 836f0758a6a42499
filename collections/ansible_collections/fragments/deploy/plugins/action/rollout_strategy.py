# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Action rollout_strategy: refuse a play that lets hosts run ahead (documented in modules/rollout_strategy.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible import constants as C
from ansible.plugins.action import ActionBase

from ansible_collections.fragments.deploy.plugins.plugin_utils.rollout import strategy_problem


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        self.validate_argument_spec(argument_spec={})
        # The play's keyword when it has one; its default is the configured strategy.
        play = self._task.get_play()
        strategy = play.strategy if play is not None else C.DEFAULT_STRATEGY
        problem = strategy_problem(strategy, C.DEFAULT_STRATEGY)
        result.update(changed=False, strategy=strategy)
        if problem:
            result.update(failed=True, msg=problem)
        return result
