from __future__ import annotations

import bcrypt
import pytest
from starlette.testclient import TestClient

from moto.server import ThreadedMotoServer

from fragments.app import create_app
from support import USERS, aws_storage_env, basic, free_port, make_settings


@pytest.fixture(scope="session")
def moto_server():
    """moto's server on a free loopback port: the AWS API (S3, DynamoDB, Cognito) for the
    service's tests, over HTTP as AWS is reached."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "htpasswd"
    lines = []
    for user, password in USERS.items():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        lines.append(f"{user}:$2y${hashed[4:]}")  # as `htpasswd -B` writes it
    path.write_text("# users\n\n" + "\n".join(lines) + "\n")
    return path


@pytest.fixture
def aws_credentials(monkeypatch):
    """Credentials moto takes, where boto3 looks for them (the process environment); no
    instance metadata is asked."""
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=["memory", "aws"])
def client(request, htpasswd):
    """The app on each backend the API must behave the same on: every route's test runs on
    both (aws: a new bucket and table in moto's server)."""
    env = {}
    if request.param == "aws":
        request.getfixturevalue("aws_credentials")
        env = aws_storage_env(request.getfixturevalue("moto_server"))
    with TestClient(create_app(make_settings(htpasswd, **env))) as test_client:
        yield test_client


@pytest.fixture
def alice():
    return basic("user1@email.com", "password1")


@pytest.fixture
def bob():
    return basic("user2@email.com", "password2")
