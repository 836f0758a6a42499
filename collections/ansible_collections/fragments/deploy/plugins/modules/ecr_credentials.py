#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ecr_credentials
short_description: Get a registry login for Amazon ECR from the AWS API
version_added: 0.1.0
description:
  - Calls ECR's GetAuthorizationToken and returns the user name and password that
    C(docker login) and M(fragments.deploy.registry_digest) take. The password is a
    token valid for 12 hours; set C(no_log=true) on the task.
  - Credentials, region and endpoint come the usual amazon.aws ways (environment, profile,
    instance role; C(AWS_ENDPOINT_URL) for a test endpoint such as moto).
options:
  registry_ids:
    description: AWS account ids whose registries to log in to; default the caller's.
    type: list
    elements: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: It only reads, so it runs in check mode too.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Log in to ECR without any secret on a command line
  fragments.deploy.ecr_credentials:
    region: eu-west-1
  register: ecr
  no_log: true
"""

RETURN = r"""
username:
  description: Always C(AWS).
  returned: success
  type: str
password:
  description: The registry token. Secret.
  returned: success
  type: str
registry:
  description: Registry host, e.g. C(123456789012.dkr.ecr.eu-west-1.amazonaws.com).
  returned: success
  type: str
expires_at:
  description: When the token stops working (ISO 8601).
  returned: success
  type: str
"""

import base64
from urllib.parse import urlparse

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(registry_ids=dict(type="list", elements="str")),
        supports_check_mode=True,
    )
    client = module.client("ecr")
    kwargs = {"registryIds": module.params["registry_ids"]} if module.params["registry_ids"] else {}
    try:
        response = client.get_authorization_token(**kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="cannot get an ECR login token; check the AWS credentials and region")
    data = response["authorizationData"][0]
    username, dummy, password = base64.b64decode(data["authorizationToken"]).decode("utf-8").partition(":")
    module.exit_json(
        changed=False,
        username=username,
        password=password,
        registry=urlparse(data["proxyEndpoint"]).netloc or data["proxyEndpoint"],
        expires_at=data["expiresAt"].isoformat() if hasattr(data["expiresAt"], "isoformat") else str(data["expiresAt"]),
    )


if __name__ == "__main__":
    main()
