"""Helpers shared by the service's tests."""

from __future__ import annotations

import base64
import io

from fragments.config import Settings

USERS = {"user1@email.com": "password1", "user2@email.com": "password2"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


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
