#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollout_strategy
short_description: Refuse a play whose strategy lets each host run ahead of the others
version_added: 0.5.0
description:
  - Runs on the control node only (an action plugin) and changes nothing. The deploy role calls it first in the
    play that rolls out, before any host is locked.
  - Fails, saying what to change, when the play's strategy (its C(strategy) keyword, else C(ANSIBLE_STRATEGY) or
    ansible.cfg's C(strategy)) lets each host run ahead, such as C(free) or C(host_pinned). A rollout reads
    every host's state between two steps (the batches, the stop rule, the refusals); under C(free) a host would
    read the others' before they are taken. Strategies whose name ends in C(linear), and C(debug), pass.
options: {}
attributes:
  check_mode:
    support: full
    description: It changes nothing, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing to show.
  action:
    support: full
    description: An action plugin, on the control node.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Refuse a play strategy that lets hosts run ahead
  fragments.deploy.rollout_strategy:
  run_once: true
"""

RETURN = r"""
strategy:
  description: The play's strategy.
  returned: always
  type: str
  sample: linear
"""
