"""Both storage backends behave the same; SQLite outlives the process that wrote it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from support import make_settings
from fragments.app import create_app
from fragments.config import Settings
from fragments.storage import Fragment, MemoryStorage, SQLiteStorage


@pytest.fixture(params=["memory", "sqlite"])
def storage(request, tmp_path):
    return MemoryStorage() if request.param == "memory" else SQLiteStorage(str(tmp_path / "f.db"))


def fragment(owner="o", fragment_id="a", created="2026-01-01T00:00:00.000Z"):
    return Fragment(fragment_id, owner, created, created, "text/plain", 3)


def test_round_trip(storage):
    storage.save(fragment(), b"abc")
    assert storage.get("o", "a") == fragment()
    assert storage.data("o", "a") == b"abc"
    assert storage.get("other", "a") is None
    assert storage.data("other", "a") is None


def test_list_in_creation_order_per_owner(storage):
    storage.save(fragment(fragment_id="b", created="2026-01-02T00:00:00.000Z"), b"")
    storage.save(fragment(fragment_id="a"), b"")
    storage.save(fragment(owner="x", fragment_id="c"), b"")
    assert storage.ids("o") == ["a", "b"]
    assert [item.id for item in storage.all("o")] == ["a", "b"]


def test_delete(storage):
    storage.save(fragment(), b"abc")
    assert storage.delete("o", "a") is True
    assert storage.delete("o", "a") is False
    assert storage.ids("o") == []


def test_sqlite_data_survives_a_new_app(htpasswd, tmp_path, alice):
    settings = make_settings(htpasswd, FRAGMENTS_STORAGE="sqlite", FRAGMENTS_SQLITE_PATH=str(tmp_path / "db"))
    first = TestClient(create_app(settings))
    fragment_id = first.post("/v1/fragments", content=b"keep me",
                             headers={**alice, "Content-Type": "text/plain"}).json()["fragment"]["id"]
    second = TestClient(create_app(settings))
    assert second.get(f"/v1/fragments/{fragment_id}", headers=alice).content == b"keep me"


def test_unknown_storage_is_refused():
    with pytest.raises(ValueError, match="FRAGMENTS_STORAGE"):
        Settings.from_env({"FRAGMENTS_STORAGE": "redis"})


def test_bad_htpasswd_line_names_the_line(tmp_path):
    from fragments.auth import Htpasswd

    path = tmp_path / "htpasswd"
    path.write_text("alice:{SHA}abc\n")
    with pytest.raises(ValueError, match=r"htpasswd:1: expected 'user:<bcrypt hash>'"):
        Htpasswd.load(str(path))


def test_without_htpasswd_every_v1_request_is_refused(alice):
    client = TestClient(create_app(Settings.from_env({"LOG_LEVEL": "error"})))
    assert client.get("/", headers=alice).status_code == 200
    assert client.get("/v1/fragments", headers=alice).status_code == 401
