"""Helpers shared by the service's tests."""

from __future__ import annotations

import base64
import io
import socket
import uuid

from fragments.config import Settings

USERS = {"user1@email.com": "password1", "user2@email.com": "password2"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def aws_storage_env(moto_url: str, s3=None, dynamodb=None) -> dict[str, str]:
    """A new bucket and table in moto's server (the AWS API on 127.0.0.1), as the collection
    provisions them, and the environment the service reads them from. s3/dynamodb override
    the endpoints the service uses (a dead one, to see it fail)."""
    import boto3

    name = f"fragments-{uuid.uuid4().hex[:12]}"
    aws = {"endpoint_url": moto_url, "region_name": "us-east-1", "aws_access_key_id": "test",
           "aws_secret_access_key": "test"}
    boto3.client("s3", **aws).create_bucket(Bucket=name)
    boto3.client("dynamodb", **aws).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "ownerId", "AttributeType": "S"},
                              {"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "ownerId", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}])
    return {"AWS_REGION": "us-east-1", "AWS_S3_BUCKET_NAME": name, "AWS_DYNAMODB_TABLE_NAME": name,
            "AWS_S3_ENDPOINT_URL": s3 or moto_url, "AWS_DYNAMODB_ENDPOINT_URL": dynamodb or moto_url}


def make_settings(htpasswd, **overrides) -> Settings:
    env = {"HTPASSWD_FILE": str(htpasswd), "LOG_LEVEL": "warning", **overrides}
    return Settings.from_env(env)


def image_bytes(fmt: str, mode: str = "RGBA") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (4, 3), (255, 0, 0, 255) if mode == "RGBA" else (255, 0, 0)).save(out, format=fmt)
    return out.getvalue()


def post(client, auth, body=b"hello", content_type="text/plain", **headers):
    return client.post("/v1/fragments", content=body, headers={**auth, "Content-Type": content_type, **headers})


def assert_error(response, code):
    assert response.status_code == code
    body = response.json()
    assert body["status"] == "error"
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body.keys() == {"status", "error"} and body["error"].keys() == {"code", "message"}
