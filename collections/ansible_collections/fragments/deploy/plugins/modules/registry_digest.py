#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_digest
short_description: Resolve an image tag to its digest through the registry's HTTP API
version_added: 0.1.0
description:
  - Asks a registry (Docker Hub, Amazon ECR, or any registry that speaks the HTTP API v2)
    which manifest digest a tag points at, without pulling anything.
  - Answers Basic and Bearer-token challenges (the token flow Docker Hub uses).
  - Pin deploys with it, so every host runs the same bytes even if the tag moves.
  - With O(tags), several tags of one repository in one call (one connection, one token),
    as a release checks every tag it pushes.
options:
  image:
    description:
      - Image reference, C(registry/repository:tag) or C(registry/repository@sha256:...).
        Without a registry, Docker Hub (C(docker.io), with C(library/) for one-part names).
      - With O(tags), the repository alone, C(registry/repository).
    type: str
    required: true
  tags:
    description:
      - Tags of the O(image) repository to resolve, instead of the image's own reference.
      - Returns RV(digests); a tag the registry does not have maps to V(null) (any other
        failure fails the task).
    type: list
    elements: str
  username:
    description: User name; for Docker Hub your account name, for ECR C(AWS).
    type: str
  password:
    description: Password or access token. Never printed.
    type: str
  ca_path:
    description: CA certificate file that signed the registry's TLS certificate.
    type: path
  validate_certs:
    description: Verify the registry's TLS certificate.
    type: bool
    default: true
  scheme:
    description: C(http) only for a registry that serves plain HTTP on a trusted network.
    type: str
    choices: [https, http]
    default: https
  timeout:
    description: Seconds to wait for each HTTP answer.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: It only reads, so it runs and returns the digest in check mode too.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Pin the tag we deploy
  fragments.deploy.registry_digest:
    image: docker.io/alice/fragments:lab-6
    username: alice
    password: "{{ dockerhub_token }}"
  register: pinned
  no_log: true

- name: Where each release tag points now, in one call
  fragments.deploy.registry_digest:
    image: docker.io/alice/fragments
    tags: [latest, lab-6, 3f2a9c1d0b7e]
    username: alice
    password: "{{ dockerhub_token }}"
  register: remote
  no_log: true

- name: Resolve through a private registry with its own CA
  fragments.deploy.registry_digest:
    image: registry.example.com:5000/fragments:latest
    username: deploy
    password: "{{ registry_password }}"
    ca_path: /etc/ssl/private-ca.crt
"""

RETURN = r"""
digest:
  description: Digest of the manifest the tag points at.
  returned: success, without O(tags)
  type: str
  sample: sha256:0f1e6c7d2cbd0e4a7a91c7f1c5e6c5e2d1b9e4f3a2b1c0d9e8f7a6b5c4d3e2f1
media_type:
  description: Media type of that manifest (image manifest or index).
  returned: success, without O(tags)
  type: str
  sample: application/vnd.docker.distribution.manifest.v2+json
registry:
  description: Registry the image lives in, normalised (C(docker.io) for Docker Hub).
  returned: success
  type: str
repository:
  description: Repository inside the registry, normalised (C(library/...) on Docker Hub).
  returned: success
  type: str
reference:
  description: C(registry/repository@digest), what a host should pull.
  returned: success, without O(tags)
  type: str
digests:
  description: Each of O(tags) and the digest it points at, V(null) where the registry has no such tag.
  returned: success, with O(tags)
  type: dict
  sample: {"latest": "sha256:0f1e6c7d2cbd0e4a7a91c7f1c5e6c5e2d1b9e4f3a2b1c0d9e8f7a6b5c4d3e2f1", "lab-6": null}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fragments.deploy.plugins.module_utils import reference
from ansible_collections.fragments.deploy.plugins.module_utils.registry import ManifestUnknown, Registry, RegistryError


def resolve_tags(client, repository, tags):
    """{tag: digest, or None where the registry has no such tag}; other failures raise."""
    digests = {}
    for tag in tags:
        try:
            digests[tag] = client.manifest_digest(repository, tag)[0]
        except ManifestUnknown:
            digests[tag] = None
    return digests


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type="str", required=True),
            tags=dict(type="list", elements="str"),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            ca_path=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
            scheme=dict(type="str", default="https", choices=["https", "http"]),
            timeout=dict(type="int", default=30),
        ),
        required_together=[["username", "password"]],
        supports_check_mode=True,
    )
    try:
        parsed = reference.parse(module.params["image"])
    except ValueError as exc:
        module.fail_json(msg="image %r: %s" % (module.params["image"], exc))
    tags = module.params["tags"]
    if tags is not None:
        problems = [problem for problem in map(reference.tag_problem, tags) if problem]
        if parsed["tag"] or parsed["digest"]:
            problems.insert(0, "with tags, give image as registry/repository, without a tag or digest (%r)"
                            % module.params["image"])
        if problems:
            module.fail_json(msg="; ".join(problems))
    client = Registry(
        reference.api_host(parsed["registry"]),
        username=module.params["username"],
        password=module.params["password"],
        ca_path=module.params["ca_path"],
        validate_certs=module.params["validate_certs"],
        scheme=module.params["scheme"],
        timeout=module.params["timeout"],
    )
    try:
        if tags is not None:
            digests = resolve_tags(client, parsed["repository"], tags)
        else:
            wanted = parsed["digest"] or parsed["tag"] or "latest"
            digest, media_type = client.manifest_digest(parsed["repository"], wanted)
    except RegistryError as exc:
        module.fail_json(msg=str(exc), registry=parsed["registry"], repository=parsed["repository"])
    if tags is not None:
        module.exit_json(changed=False, digests=digests, registry=parsed["registry"], repository=parsed["repository"])
    name = parsed["repository"]
    if parsed["registry"] != reference.DOCKER_HUB:
        name = parsed["registry"] + "/" + name
    module.exit_json(
        changed=False,
        digest=digest,
        media_type=media_type,
        registry=parsed["registry"],
        repository=parsed["repository"],
        reference="%s@%s" % (name, digest),
    )


if __name__ == "__main__":
    main()
