# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""This host's TCP sockets, read from /proc: whether a port is free, who holds it, and the
connections still open to one (a drain)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket


def listening_inodes(port, tables):
    """The socket inodes listening (state 0A) on `port`, in /proc/net/tcp text."""
    found = set()
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def socket_holders(inodes, proc="/proc"):
    """The processes holding these sockets, as "name (pid N)"."""
    wanted = set("socket:[%s]" % inode for inode in inodes)
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            folder = os.path.join(proc, entry, "fd")
            if any(os.readlink(os.path.join(folder, fd)) in wanted for fd in os.listdir(folder)):
                with open(os.path.join(proc, entry, "comm")) as handle:
                    found.append("%s (pid %s)" % (handle.read().strip(), entry))
        except (IOError, OSError):
            continue  # gone meanwhile, or not ours to read
    return found


def port_free(address, port):
    """Whether nothing listens on address:port (SO_REUSEADDR: connections in TIME_WAIT left
    by an earlier version do not count, as they do not for Docker's own listener)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def tcp_tables():
    """This host's TCP sockets: the texts of /proc/net/tcp and /proc/net/tcp6 that exist."""
    tables = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as handle:
                tables.append(handle.read())
        except (IOError, OSError):
            continue
    return tables


def established_to(port, tables):
    """Connections in state ESTABLISHED whose remote end is `port`, in /proc/net/tcp text."""
    count = 0
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count
