#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_deploy
short_description: Make one image digest serve as an app on this host, behind its proxy, with no dropped request
version_added: 0.3.0
description:
  - Makes "this digest serves as app O(name) on this host, with these settings" true in one
    invocation, so a deploy costs one SSH round trip per host plus the time the app takes
    to become healthy.
  - When that digest already serves with the same settings (and the same secret file
    contents), it answers unchanged at once.
  - Otherwise it pulls C(image@digest) if the image is missing (logging in through a
    throw-away Docker client configuration; the password goes to C(docker login) on its
    standard input, never on a command line nor in an environment), starts the new version
    as C(<name>-candidate) publishing O(port) on O(bind_address) only, on the first of O(host_ports)
    that the running version does not use and no process listens on, and gates it on the image's HEALTHCHECK (or
    O(healthcheck)) and O(health_path) on its own address.
  - A healthy candidate takes the traffic through a graceful reload of the host's nginx
    (C(nginx -t) first, so a configuration nginx refuses is never loaded), is checked again
    through the proxy (O(proxy_check_url)), and only then does the old version stop, once its
    in-flight requests are done
    (O(drain_timeout)). The old container is kept, stopped, as C(<name>-previous), so a
    revert to it needs no pull and no new container. Its stop is asked for by a detached
    process and not waited for (the module returns while it stops, within O(stop_timeout));
    the next change stops a previous version still running before it reuses it.
  - Nothing running is touched when the pull fails or the candidate is not healthy; a
    version that fails once it takes the traffic is switched back to the old one, which
    never stopped. Each change is appended to the host's deploy record
    (C(<state_dir>/<name>/deploys.jsonl)), and images of the repository beyond
    O(keep_images) are removed, never the running or the previous one.
  - A change interrupted at any step (the control node, the connection or this module's own
    process killed, the host rebooted) is finished or undone by the next call, decided from
    what nginx has loaded (a probe through O(proxy_check_url)), not from the upstream file. A
    candidate nginx already sends the traffic to is checked through nginx and promoted; any
    other is removed only after nginx points at the running version again. The candidate gets
    the restart policy C(unless-stopped) once it passes its gate, and the promotion is ordered
    so that each of its steps leaves a state the next call finishes. The proxy left stopped is
    started again, with a warning.
  - Talks to Docker through the docker CLI on the host; needs the nginx of
    M(fragments.deploy.proxy) (role C(fragments.deploy.proxy)).
extends_documentation_fragment:
  - fragments.deploy.app_options
attributes:
  check_mode:
    support: full
    description: Says whether the digest would be pulled and deployed; pulls, starts and writes nothing.
  diff_mode:
    support: full
    description: Shows the digest, tags and settings fingerprint before and after.
notes:
  - "For fault tests: a file C(<state_dir>/<name>/fault-at) holding a step's name (C(pulled), C(candidate-started),
    C(gate-passed), C(upstream-written), C(proxy-tested), C(proxy-reloaded), C(checked), C(old-stopped),
    C(old-renamed), C(promoted)) makes the next change kill its own process at that step, once (the file is
    removed first). Only root can write there; nothing of the collection creates it."
  - Needs root (or membership of the docker group and write access to O(state_dir) and the upstream file).
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Serve the release on this host
  fragments.deploy.app_deploy:
    name: fragments
    image: docker.io/alice/fragments
    digest: sha256:5c1e0a9b7f3d5c1e0a9b7f3d5c1e0a9b7f3d5c1e0a9b7f3d5c1e0a9b7f3d5c1e
    tags: [latest, lab-6]
    registry: docker.io
    registry_username: alice
    registry_password: "{{ dockerhub_token }}"
    user: "10001:10001"
    read_only: true
    secret_files:
      - name: htpasswd
        content: "{{ fragments_htpasswd }}"
        target: /run/secrets/htpasswd
    env:
      HTPASSWD_FILE: /run/secrets/htpasswd
  register: deployed
"""

RETURN = r"""
outcome:
  description:
    - C(unchanged), C(deployed), C(refused) (the candidate was not healthy), C(rolled-back) (it failed once it
      took the traffic).
  returned: success
  type: str
digest:
  description: The digest that serves now.
  returned: success
  type: str
tags:
  description: Its tags.
  returned: success
  type: list
  elements: str
previous_digest:
  description: The digest that served before this call; empty on a first deploy.
  returned: success
  type: str
health:
  description: Docker's health status of the serving container (C(healthy), C(no check), ...).
  returned: success
  type: str
since:
  description: When the serving container started, UTC.
  returned: success
  type: str
port:
  description: The loopback port the proxy sends the traffic to.
  returned: success
  type: int
up_to_date:
  description: Whether the digest already served with these settings when the call began.
  returned: success
  type: bool
pulled:
  description: Whether the image was pulled.
  returned: success
  type: bool
timings:
  description: Seconds spent in each step (pull, start, gate, switch, check, drain, promote, total).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fragments.deploy.plugins.module_utils.app_deployer import Deployer
from ansible_collections.fragments.deploy.plugins.module_utils.app_host import REFUSED, CommandError, Refused
from ansible_collections.fragments.deploy.plugins.module_utils.app_settings import ARGUMENT_SPEC, problems


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    found = problems(module.params)
    if found:
        module.fail_json(msg="; ".join(found) + ". Nothing was changed.", outcome=REFUSED, changed=False)
    deployer = Deployer(module)
    try:
        result = deployer.run()
    except Refused as exc:
        try:
            serving = deployer.docker.inspect(deployer.app.name)
        except CommandError:
            serving = None
        module.fail_json(msg=str(exc), **deployer.answer(exc.outcome, serving, "", False))
    except CommandError as exc:
        module.fail_json(msg="%s. See the host's docker and nginx logs." % exc, **deployer.answer("failed", None, "", False))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
