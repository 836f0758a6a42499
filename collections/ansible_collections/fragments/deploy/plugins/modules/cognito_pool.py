#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cognito_pool
short_description: An Amazon Cognito user pool with an app client and users, for an app that takes its ID tokens
version_added: 0.3.0
description:
  - Makes sure a user pool named O(name) exists (found by name; created with O(tags)), with an
    app client named O(client_name) that has no secret and allows the user-password and
    refresh-token flows, and with the users of O(users).
  - Returns what an app needs to check the pool's ID tokens, the pool and client ids, the
    issuer and the URL of the pool's public keys (JWKS).
  - A user's password is set when the user is created; with O(update_password=always) on
    every run (a rotation).
  - With O(state=absent) the pool (and with it its clients and users) is deleted, but only
    when it carries every tag of O(tags).
options:
  name:
    description: Name of the user pool.
    type: str
    required: true
  client_name:
    description: Name of the app client.
    type: str
    default: web
  users:
    description: Users to create in the pool.
    type: list
    elements: dict
    default: []
    suboptions:
      username:
        description: The user's name (an email address works with the fragments service, whose owner is the email).
        type: str
        required: true
      email:
        description: The user's email attribute (marked verified); default the username.
        type: str
      password:
        description: The user's permanent password.
        type: str
        required: true
  password_policy:
    description:
      - The pool's password policy when it is created, as Cognito's C(PasswordPolicy) (C(MinimumLength),
        C(RequireUppercase), C(RequireLowercase), C(RequireNumbers), C(RequireSymbols)); empty keeps Cognito's
        default (8 characters with upper and lower case letters, numbers and symbols).
    type: dict
    default: {}
  update_password:
    description: C(on_create) sets passwords of new users only; C(always) sets them on every run.
    type: str
    choices: [on_create, always]
    default: on_create
  tags:
    description: Tags of the pool when it is created; with O(state=absent), the tags it must carry to be deleted.
    type: dict
    default: {}
  state:
    description: C(present) or C(absent).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: Says what it would create or delete; creates nothing.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: A pool for the fragments service, with one user
  fragments.deploy.cognito_pool:
    name: fragments-production
    region: us-east-1
    tags: {Project: fragments, Environment: production, ManagedBy: fragments-deploy}
    users:
      - username: alice@example.com
        password: "{{ vault_alice_password }}"
  register: pool

- name: Deploy with it
  ansible.builtin.set_fact:
    container_app_env:
      AWS_COGNITO_POOL_ID: "{{ pool.pool_id }}"
      AWS_COGNITO_CLIENT_ID: "{{ pool.client_id }}"
"""

RETURN = r"""
pool_id:
  description: The user pool's id, e.g. C(us-east-1_AbC123).
  returned: state is present
  type: str
client_id:
  description: The app client's id.
  returned: state is present
  type: str
issuer:
  description: The issuer (C(iss)) of the pool's tokens.
  returned: state is present
  type: str
jwks_url:
  description: Where the pool's public keys are served (through the endpoint the module used).
  returned: state is present
  type: str
created_users:
  description: The users this run created.
  returned: state is present
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library


def find_pool(client, name):
    for page in client.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return pool["Id"]
    return None


def find_client(client, pool_id, name):
    for page in client.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
        for app in page["UserPoolClients"]:
            if app["ClientName"] == name:
                return app["ClientId"]
    return None


def existing_user(client, pool_id, username):
    try:
        client.admin_get_user(UserPoolId=pool_id, Username=username)
        return True
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] == "UserNotFoundException":
            return False
        raise


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            client_name=dict(type="str", default="web"),
            users=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
                username=dict(type="str", required=True),
                email=dict(type="str"),
                password=dict(type="str", required=True, no_log=True),
            )),
            password_policy=dict(type="dict", default={}, no_log=False),
            update_password=dict(type="str", choices=["on_create", "always"], default="on_create"),
            tags=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    idp = module.client("cognito-idp")
    changed = False
    try:
        pool_id = find_pool(idp, params["name"])
        if params["state"] == "absent":
            if pool_id:
                tags = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("UserPoolTags") or {}
                if any(tags.get(key) != value for key, value in params["tags"].items()):
                    module.fail_json(msg="user pool %s (%s) does not carry the tags %s; it was left alone"
                                     % (params["name"], pool_id, params["tags"]))
                if not module.check_mode:
                    idp.delete_user_pool(UserPoolId=pool_id)
                changed = True
            module.exit_json(changed=changed)

        if not pool_id:
            changed = True
            if module.check_mode:
                module.exit_json(changed=True, pool_id="", client_id="", issuer="", jwks_url="",
                                 created_users=[user["username"] for user in params["users"]])
            policies = {"PasswordPolicy": params["password_policy"]} if params["password_policy"] else {}
            # Users only from this module (no self sign-up), and an email change that takes
            # effect only once the new address is verified.
            pool_id = idp.create_user_pool(
                PoolName=params["name"], UserPoolTags=params["tags"], AutoVerifiedAttributes=["email"], Policies=policies,
                AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
                UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
            )["UserPool"]["Id"]
        client_id = find_client(idp, pool_id, params["client_name"])
        if not client_id:
            changed = True
            if not module.check_mode:
                client_id = idp.create_user_pool_client(
                    UserPoolId=pool_id, ClientName=params["client_name"], GenerateSecret=False,
                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                    # The ID token carries the email; a user may change their name through
                    # this client, not their email (an empty list would allow every attribute).
                    ReadAttributes=["email", "email_verified"], WriteAttributes=["name"],
                )["UserPoolClient"]["ClientId"]
        created = []
        for user in params["users"]:
            new = not existing_user(idp, pool_id, user["username"])
            if new:
                created.append(user["username"])
                if not module.check_mode:
                    idp.admin_create_user(UserPoolId=pool_id, Username=user["username"], MessageAction="SUPPRESS",
                                          UserAttributes=[{"Name": "email", "Value": user["email"] or user["username"]},
                                                          {"Name": "email_verified", "Value": "true"}])
            if (new or params["update_password"] == "always") and not module.check_mode:
                try:
                    idp.admin_set_user_password(UserPoolId=pool_id, Username=user["username"],
                                                Password=user["password"], Permanent=True)
                except botocore.exceptions.ClientError as exc:
                    if new:  # a user without its password must not pass for done on the next run
                        idp.admin_delete_user(UserPoolId=pool_id, Username=user["username"])
                    module.fail_json_aws(exc, msg="the password of user %s was refused (the pool's password policy?); "
                                                  "the user was not kept" % user["username"])
            changed = changed or new or params["update_password"] == "always"
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="cannot set up the Cognito user pool %s" % params["name"])

    region = pool_id.split("_", 1)[0]
    issuer = "https://cognito-idp.%s.amazonaws.com/%s" % (region, pool_id)
    endpoint = idp.meta.endpoint_url.rstrip("/")
    module.exit_json(changed=changed, pool_id=pool_id, client_id=client_id or "", issuer=issuer,
                     jwks_url="%s/%s/.well-known/jwks.json" % (endpoint, pool_id), created_users=created)


if __name__ == "__main__":
    main()
