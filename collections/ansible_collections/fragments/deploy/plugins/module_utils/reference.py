# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Docker image references: the grammar of distribution/reference, and Docker Hub's
defaults (docker.io, library/). Shared by the filter and module plugins."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[0-9a-fA-F:]+\])"
PATH = re.compile(r"^" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*$")
DOMAIN = re.compile(r"^" + _HOST + r"(?::[0-9]+)?$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
NAME_MAX = 255

REPOSITORY_RULE = (
    "path components of lowercase letters and digits, separated by '/', each component may "
    "join letters and digits with '.', '_', '__' or '-' but not start or end with them"
)
TAG_RULE = "1 to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'"
REGISTRY_RULE = "a host name or IP address with an optional :port, e.g. registry.example.com:5000"


def registry_problem(registry):
    if not registry or not DOMAIN.match(registry):
        return "registry %r is not a valid registry host: expected %s" % (registry, REGISTRY_RULE)
    return ""


def repository_problem(repository):
    if not repository or not PATH.match(repository):
        return "repository %r does not follow Docker's reference grammar: %s" % (repository, REPOSITORY_RULE)
    if len(repository) > NAME_MAX:
        return "repository %r is longer than %d characters" % (repository, NAME_MAX)
    return ""


def tag_problem(tag):
    if not isinstance(tag, str) or not TAG.match(tag):
        return "tag %r does not follow Docker's reference grammar: %s" % (tag, TAG_RULE)
    return ""


def digest_problem(digest):
    if not isinstance(digest, str) or not DIGEST.match(digest):
        return "digest %r is not of the form sha256:<64 hex digits>" % (digest,)
    return ""


def split_name(name):
    """'registry:5000/team/app' -> ('registry:5000', 'team/app'); Docker Hub names get
    docker.io and, for one-component names, library/."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry in (DOCKER_HUB, "index.docker.io", DOCKER_HUB_API):
        registry = DOCKER_HUB
        if "/" not in repository:
            repository = "library/" + repository
    return registry, repository


def parse(reference):
    """'reg/app:tag@sha256:...' -> dict(registry, repository, tag, digest); raises ValueError."""
    name, dummy, digest = reference.partition("@")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    registry, repository = split_name(name)
    problems = [p for p in (
        registry_problem(registry),
        repository_problem(repository),
        tag_problem(tag) if tag is not None else "",
        digest_problem(digest) if digest else "",
    ) if p]
    if problems:
        raise ValueError("; ".join(problems))
    return {"registry": registry, "repository": repository, "tag": tag, "digest": digest or None}


def api_host(registry):
    """The host the registry's HTTP API answers on."""
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry
