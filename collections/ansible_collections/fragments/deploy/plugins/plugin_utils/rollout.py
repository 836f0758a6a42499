# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""A rollout's plan, decided on the control node before any host is locked and before anything is
read: its settings and the digest asked for checked, and who it is for the locks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import random
import re
import socket
import time

from ansible_collections.fragments.deploy.plugins.module_utils.app_host import DIGEST


def batch_size(size, count):
    """Hosts per batch for `count` hosts; raises ValueError for a size that is none."""
    text = str(size).strip()
    match = re.match(r"([1-9][0-9]*)(%?)\Z", text)
    if not match or (match.group(2) and int(match.group(1)) > 100):
        raise ValueError("a batch size is a number of hosts above 0 or a percentage from 1%% to 100%%, not %r" % (size,))
    if match.group(2):
        return max(1, count * int(match.group(1)) // 100)
    return int(match.group(1))


def whole(value):
    """An int from an int or its decimal text; None for anything else (a bool is not a number here)."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def settings_problem(batch, max_fail_percentage, lock_stale_after):
    """The sentence that says which rollout setting to fix, or '' when all are valid."""
    try:
        batch_size(batch, 1)
        batch_ok = True
    except ValueError:
        batch_ok = False
    percent, stale = whole(max_fail_percentage), whole(lock_stale_after)
    if batch_ok and percent is not None and 0 <= percent <= 100 and stale is not None and stale > 0:
        return ""
    return ("Check the deploy settings: deploy_batch_size is a number of hosts or a percentage such as 50%% (now %s), "
            "deploy_max_fail_percentage a whole number from 0 to 100 (now %s), deploy_lock_stale_after seconds above 0 "
            "(now %s). Nothing was changed." % (batch, max_fail_percentage, lock_stale_after))


def digest_problem(digest):
    """The sentence that says how to fix a digest asked for, or '' when it is one (or none was asked for)."""
    if not digest or DIGEST.match(digest):
        return ""
    return "deploy_digest must be sha256:<64 hex digits>, not %s. Nothing was changed." % digest


def lock_owner(user=None, host=None, when=None, nonce=None):
    """Who a rollout is for the locks: user@host, when it started (UTC) and a number no other rollout has."""
    if user is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name and no passwd entry (some containers)
            user = ""
    if nonce is None:
        nonce = random.SystemRandom().randrange(2 ** 32)
    return "%s@%s %s %d" % (user or "someone", host or socket.gethostname(),
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)), nonce)
