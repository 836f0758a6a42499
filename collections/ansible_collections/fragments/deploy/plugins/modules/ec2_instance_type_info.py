#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ec2_instance_type_info
short_description: Check that EC2 instance types exist in a region and tell their architectures
version_added: 0.2.0
description:
  - Calls EC2's DescribeInstanceTypes for the given types. Fails, naming every unknown
    type, when the region does not offer one of them, so a play can refuse a typo such as
    C(t3.mirco) before it creates anything.
  - Returns the CPU architectures each type supports, so the caller can look up an AMI
    of the matching architecture (C(t4g.*) needs C(arm64)).
  - Credentials, region and endpoint come the usual amazon.aws ways (environment, profile,
    instance role; C(AWS_ENDPOINT_URL) for a test endpoint such as moto).
options:
  instance_types:
    description: Instance type names, such as C(t3.micro).
    type: list
    elements: str
    required: true
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
- name: Refuse an instance type the region does not have
  fragments.deploy.ec2_instance_type_info:
    instance_types: [t3.micro]
    region: eu-west-1
  register: instance_type
"""

RETURN = r"""
instance_types:
  description: One entry per requested type, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The instance type.
      type: str
      sample: t3.micro
    architectures:
      description: CPU architectures AMIs for this type must have.
      type: list
      elements: str
      sample: [x86_64]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library


def describe(client, names):
    """Return {name: description} for the names the region knows, and the unknown names."""
    known = {}
    unknown = []
    # One call per name: a single unknown name makes DescribeInstanceTypes fail as a whole.
    for name in names:
        try:
            response = client.describe_instance_types(InstanceTypes=[name])
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidInstanceType":
                unknown.append(name)
                continue
            raise
        known.update({item["InstanceType"]: item for item in response["InstanceTypes"]})
    return known, unknown


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(instance_types=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    names = module.params["instance_types"]
    client = module.client("ec2")
    try:
        known, unknown = describe(client, names)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="cannot describe instance types; check the AWS credentials and region")
    if unknown:
        module.fail_json(
            msg="instance type(s) {0} do not exist in region {1}; pick one that "
            "`aws ec2 describe-instance-types --region {1}` lists, such as t3.micro".format(
                ", ".join(unknown), module.region
            ),
            unknown=unknown,
        )
    module.exit_json(
        changed=False,
        instance_types=[
            {"name": name, "architectures": known[name]["ProcessorInfo"]["SupportedArchitectures"]} for name in names
        ],
    )


if __name__ == "__main__":
    main()
