"""End to end: the service's users in an Amazon Cognito user pool of the lab's cloud (moto):
playbooks/cognito.yml makes the pool, its app client and the lab's user, and again changes
nothing; the service deployed with -e fragments_auth=cognito on the lab host fetches the
pool's keys from the lab's cloud and, through the host's proxy, takes an ID token the pool
issued and refuses an access token and Basic auth."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest

from lab import APP_REPOSITORY

pytestmark = pytest.mark.e2e


def ask(url: str, authorization: str) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/v1/fragments", headers={"Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


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
