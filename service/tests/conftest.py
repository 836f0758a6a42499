from __future__ import annotations

import bcrypt
import pytest
from starlette.testclient import TestClient

from fragments.app import create_app
from support import USERS, basic, make_settings


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
def client(htpasswd):
    with TestClient(create_app(make_settings(htpasswd))) as test_client:
        yield test_client


@pytest.fixture
def alice():
    return basic("user1@email.com", "password1")


@pytest.fixture
def bob():
    return basic("user2@email.com", "password2")
