# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""An app's deploy lock on a host: a file created only if it does not exist (O_EXCL), holding
who took it and when; a lock older than its stale time is reported as such, never taken over."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time
from datetime import datetime, timezone


def read_lock(path, stale_after):
    """The holder of a deploy lock file (owner, since, age, stale), or None."""
    try:
        with open(path) as handle:
            holder = json.load(handle)
    except (IOError, OSError):
        if not os.path.exists(path):
            return None
        holder = None
    except ValueError:
        holder = None
    if not isinstance(holder, dict):
        # A run killed while writing leaves an empty or partial file: report it, by its time.
        holder = {"owner": "unknown (unreadable lock file)"}
    taken = holder.get("epoch") or os.stat(path).st_mtime
    holder["age"] = int(time.time() - taken)
    holder["since"] = holder.get("since") or datetime.fromtimestamp(taken, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    holder["stale"] = holder["age"] > stale_after
    return holder


def take_lock(path, owner):
    """Create the lock file only if it does not exist; False when someone was first."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    now = time.time()
    with os.fdopen(handle, "w") as out:
        json.dump({"owner": owner, "epoch": now,
                   "since": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}, out)
    return True


def remove_lock(path):
    """Remove the lock file, whoever holds it; no file is fine."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def give_back_lock(path, owner):
    """Remove the lock file if `owner` holds it: True when it did."""
    holder = read_lock(path, stale_after=0)
    if not holder or holder.get("owner") != owner:
        return False
    remove_lock(path)
    return True
