# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Convergence stamps on a host: the fingerprint each role's last converge recorded, and
whether the services it keeps are active; a rollout converges a host only where they differ."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess


STAMP_DIR = "/var/lib/fragments-deploy/converged"


def read_stamp(folder, name):
    """The fingerprint a role's last converge on this host recorded, or None."""
    try:
        with open(os.path.join(folder, name)) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def inactive_services(services):
    """The systemd services of the list that are not active (all of them without systemctl)."""
    if not services:
        return []
    try:
        out = subprocess.run(["systemctl", "is-active"] + list(services), stdout=subprocess.PIPE, check=False,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return list(services)
    states = out.split()
    return [service for service, state in zip(services, states) if state != "active"] + list(services[len(states):])
