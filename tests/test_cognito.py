"""End to end: the service's users in an Amazon Cognito user pool of the lab's cloud (moto):
playbooks/cognito.yml makes the pool, its app client and the lab's user, and again changes
nothing; the service deployed with -e fragments_auth=cognito on the lab host fetches the
pool's keys from the lab's cloud and, through the host's proxy, takes an ID token the pool
issued and refuses an access token and Basic auth. The keys come over HTTPS, trusted
through the lab CA only; a user who takes another's email gets none of their fragments."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import boto3
import pytest

from lab import APP_REPOSITORY

pytestmark = pytest.mark.e2e


def ask(url: str, authorization: str, path: str = "/v1/fragments") -> tuple[int, dict]:
    request = urllib.request.Request(url + path, headers={"Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post(url: str, authorization: str, text: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/v1/fragments", data=text, method="POST",
                                     headers={"Authorization": authorization, "Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def claims(token: str) -> dict:
    """A JWT's claims, unchecked (only to show what the token says)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_user_pool_s_id_tokens_reach_the_service_through_the_proxy(lab, app_images):
    made = lab.play("cognito.yml")
    assert made.returncode == 0, made.output
    again = lab.play("cognito.yml")
    assert again.returncode == 0 and again.changed == 0, again.output
    pool = json.loads((lab.state_dir / "cognito.json").read_text())
    deploy = lab.play("deploy.yml", "-e", json.dumps({
        "fragments_auth": "cognito", "deploy_digest": lab.manifest_digest(APP_REPOSITORY, "v2"),
        "container_app_image": f"registry.lab:{lab.registry_port}/{APP_REPOSITORY}",
        "container_app_resolve_image": f"127.0.0.1:{lab.registry_port}/{APP_REPOSITORY}"}))
    assert deploy.returncode == 0, deploy.output
    env = json.loads(lab.on_host("docker inspect -f '{{json .Config.Env}}' fragments")[1])
    assert f"AWS_COGNITO_POOL_ID={pool['pool_id']}" in env and not any(e.startswith("HTPASSWD_FILE=") for e in env)

    user, password = (lab.state_dir / "app-credentials").read_text().strip().split(":", 1)
    idp = boto3.client("cognito-idp", endpoint_url=f"http://127.0.0.1:{lab.moto_port}", region_name="us-east-1",
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    tokens = idp.initiate_auth(ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": user, "PASSWORD": password})["AuthenticationResult"]
    url = lab.app_urls()[0]
    assert ask(url, "Bearer " + tokens["IdToken"]) == (200, {"status": "ok", "fragments": []})
    assert ask(url, "Bearer " + tokens["AccessToken"])[0] == 401
    code, body = ask(url, "Basic " + "bGFiOng=")
    assert code == 401 and body["error"]["code"] == 401

    # The keys came over HTTPS from a certificate of the lab CA: the app trusts it only through
    # FRAGMENTS_CA_FILE; with the public CAs alone (certifi, in the image) the same URL is refused.
    keys_url = next(e.split("=", 1)[1] for e in env if e.startswith("AWS_COGNITO_JWKS_URL="))
    assert keys_url.startswith("https://")
    fetch = ("import os, sys, urllib.request; from fragments.auth import tls_context; "
             "ca = os.environ['FRAGMENTS_CA_FILE'] if sys.argv[1] == 'lab-ca' else None; "
             "urllib.request.urlopen(os.environ['AWS_COGNITO_JWKS_URL'], timeout=5, context=tls_context(ca)); print('fetched')")
    assert lab.on_host(f"docker exec fragments python3 -c \"{fetch}\" lab-ca") == (0, "fetched\n")
    code, output = lab.on_host(f"docker exec fragments python3 -c \"{fetch}\" public 2>&1")
    assert code != 0 and "CERTIFICATE_VERIFY_FAILED" in output, output

    # The pool: no self sign-up, an email change only once verified, and the app client may
    # not write the email at all.
    settings = idp.describe_user_pool(UserPoolId=pool["pool_id"])["UserPool"]
    assert settings["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert settings["UserAttributeUpdateSettings"]["AttributesRequireVerificationBeforeUpdate"] == ["email"]
    client = idp.describe_user_pool_client(UserPoolId=pool["pool_id"], ClientId=pool["client_id"])["UserPoolClient"]
    assert client["WriteAttributes"] == ["name"]
    # A user whose email becomes the lab user's anyway (here by the admin API) still sees only
    # their own fragments: the owner is the token's sub, which no user can change.
    status, created = post(url, "Bearer " + tokens["IdToken"], b"the lab user's own")
    assert status == 201
    mallory, mallory_password = "mallory@fragments.test", "Mallory-" + password[:16]
    idp.admin_create_user(UserPoolId=pool["pool_id"], Username=mallory, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": mallory}])
    idp.admin_set_user_password(UserPoolId=pool["pool_id"], Username=mallory, Password=mallory_password, Permanent=True)
    idp.admin_update_user_attributes(UserPoolId=pool["pool_id"], Username=mallory,
                                     UserAttributes=[{"Name": "email", "Value": user}])
    taken = idp.initiate_auth(ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": mallory, "PASSWORD": mallory_password})["AuthenticationResult"]
    assert claims(taken["IdToken"])["email"] == user
    assert ask(url, "Bearer " + taken["IdToken"]) == (200, {"status": "ok", "fragments": []})
    assert ask(url, "Bearer " + taken["IdToken"], f"/v1/fragments/{created['fragment']['id']}")[0] == 404
    assert ask(url, "Bearer " + tokens["IdToken"])[1]["fragments"] == [created["fragment"]["id"]]
