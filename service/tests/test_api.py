"""Every route, status, header and error shape of the contract."""

from __future__ import annotations

import hashlib
import re

import pytest
from starlette.testclient import TestClient

from fragments.app import create_app

from support import assert_error, basic, make_settings, post


def test_health_needs_no_auth_and_is_not_cached(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    body = response.json()
    assert body["status"] == "ok"
    assert {"author", "githubUrl", "version"} <= body.keys()


def test_health_reports_version_git_sha_and_source_as_released(htpasswd):
    settings = make_settings(htpasswd, FRAGMENTS_VERSION="1.2.3", FRAGMENTS_GIT_SHA="abc123",
                             FRAGMENTS_SOURCE_URL="https://github.com/alice/fragments")
    body = TestClient(create_app(settings)).get("/").json()
    assert (body["version"], body["gitSha"], body["githubUrl"]) == ("1.2.3", "abc123", "https://github.com/alice/fragments")
    # No source address given: it says so, no placeholder.
    assert TestClient(create_app(make_settings(htpasswd))).get("/").json()["githubUrl"] == "unknown"


def test_unknown_route_is_404_in_error_shape(client, alice):
    assert_error(client.get("/nope"), 404)
    assert_error(client.get("/v2/fragments", headers=alice), 404)


@pytest.mark.parametrize("headers", [
    {},
    basic("user1@email.com", "wrong"),
    basic("nobody@email.com", "password1"),
    {"Authorization": "Basic !!!notbase64"},
    {"Authorization": "Bearer abc"},
    {"Authorization": "Basic " + "dXNlcg=="},  # no colon
])
def test_v1_needs_valid_basic_auth(client, headers):
    response = client.get("/v1/fragments", headers=headers)
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Basic")


def test_a_remembered_password_still_has_to_match(client, alice):
    assert client.get("/v1/fragments", headers=alice).status_code == 200
    assert client.get("/v1/fragments", headers=basic("user1@email.com", "password2")).status_code == 401


def test_post_creates_a_fragment(client, alice):
    response = post(client, alice, b"hello world", "text/plain; charset=utf-8")
    assert response.status_code == 201
    fragment = response.json()["fragment"]
    assert response.json()["status"] == "ok"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", fragment["id"])
    assert fragment["ownerId"] == hashlib.sha256(b"user1@email.com").hexdigest()
    assert fragment["type"] == "text/plain; charset=utf-8"
    assert fragment["size"] == 11
    assert fragment["created"] == fragment["updated"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fragment["created"])
    assert response.headers["location"] == f"http://testserver/v1/fragments/{fragment['id']}"


def test_location_uses_api_url(htpasswd, alice):
    client = TestClient(create_app(make_settings(htpasswd, API_URL="https://api.example.com/")))
    response = post(client, alice)
    assert response.headers["location"].startswith("https://api.example.com/v1/fragments/")


@pytest.mark.parametrize("content_type", ["application/octet-stream", "image/tiff", "", "video/mp4"])
def test_post_unsupported_type_is_415(client, alice, content_type):
    response = client.post("/v1/fragments", content=b"x", headers={**alice, "Content-Type": content_type})
    assert_error(response, 415)


@pytest.mark.parametrize("content_type", ["text/xml", "text/javascript", "application/json", "text/csv"])
def test_any_text_type_and_json_are_storable(client, alice, content_type):
    assert post(client, alice, b"{}", content_type).status_code == 201


def test_post_over_5_mb_is_413(client, alice):
    assert_error(post(client, alice, b"x" * (5 * 1024 * 1024 + 1)), 413)
    assert post(client, alice, b"x" * (5 * 1024 * 1024)).status_code == 201


def test_post_streamed_over_5_mb_is_413(client, alice):
    def chunks():
        for _ in range(6):
            yield b"x" * (1024 * 1024)

    response = client.post("/v1/fragments", content=chunks(), headers={**alice, "Content-Type": "text/plain"})
    assert_error(response, 413)


def test_list_is_empty_not_an_error(client, alice):
    response = client.get("/v1/fragments", headers=alice)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "fragments": []}


def test_list_holds_ids_and_expands(client, alice, bob):
    ids = [post(client, alice, f"n{i}".encode()).json()["fragment"]["id"] for i in range(3)]
    post(client, bob)
    assert sorted(client.get("/v1/fragments", headers=alice).json()["fragments"]) == sorted(ids)
    expanded = client.get("/v1/fragments?expand=1", headers=alice).json()["fragments"]
    assert sorted(item["id"] for item in expanded) == sorted(ids)
    assert all({"id", "ownerId", "created", "updated", "type", "size"} == item.keys() for item in expanded)


def test_get_returns_raw_data_with_stored_type(client, alice):
    fragment_id = post(client, alice, b"# Hi", "text/markdown; charset=utf-8").json()["fragment"]["id"]
    response = client.get(f"/v1/fragments/{fragment_id}", headers=alice)
    assert response.status_code == 200
    assert response.content == b"# Hi"
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"


def test_other_users_fragment_is_404(client, alice, bob):
    fragment_id = post(client, alice).json()["fragment"]["id"]
    assert_error(client.get(f"/v1/fragments/{fragment_id}", headers=bob), 404)
    assert_error(client.get(f"/v1/fragments/{fragment_id}/info", headers=bob), 404)
    assert_error(client.delete(f"/v1/fragments/{fragment_id}", headers=bob), 404)


def test_unknown_id_is_404(client, alice):
    assert_error(client.get("/v1/fragments/nope", headers=alice), 404)
    assert_error(client.get("/v1/fragments/nope.txt", headers=alice), 404)
    assert_error(client.get("/v1/fragments/nope/info", headers=alice), 404)


def test_info(client, alice):
    created = post(client, alice, b"abc").json()["fragment"]
    response = client.get(f"/v1/fragments/{created['id']}/info", headers=alice)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "fragment": created}


def test_put_replaces_data(client, alice):
    created = post(client, alice, b"old", "text/plain").json()["fragment"]
    response = client.put(f"/v1/fragments/{created['id']}", content=b"newer",
                          headers={**alice, "Content-Type": "text/plain; charset=utf-8"})
    assert response.status_code == 200
    fragment = response.json()["fragment"]
    assert fragment["size"] == 5
    assert fragment["created"] == created["created"]
    assert fragment["updated"] >= created["updated"]
    assert client.get(f"/v1/fragments/{created['id']}", headers=alice).content == b"newer"


def test_put_with_another_media_type_is_400(client, alice):
    fragment_id = post(client, alice, b"x", "text/plain").json()["fragment"]["id"]
    response = client.put(f"/v1/fragments/{fragment_id}", content=b"{}",
                          headers={**alice, "Content-Type": "application/json"})
    assert_error(response, 400)


def test_put_unknown_id_is_404(client, alice):
    response = client.put("/v1/fragments/nope", content=b"x", headers={**alice, "Content-Type": "text/plain"})
    assert_error(response, 404)


def test_put_over_5_mb_is_413(client, alice):
    fragment_id = post(client, alice).json()["fragment"]["id"]
    response = client.put(f"/v1/fragments/{fragment_id}", content=b"x" * (5 * 1024 * 1024 + 1),
                          headers={**alice, "Content-Type": "text/plain"})
    assert_error(response, 413)


def test_delete(client, alice):
    fragment_id = post(client, alice).json()["fragment"]["id"]
    response = client.delete(f"/v1/fragments/{fragment_id}", headers=alice)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_error(client.get(f"/v1/fragments/{fragment_id}", headers=alice), 404)
    assert_error(client.delete(f"/v1/fragments/{fragment_id}", headers=alice), 404)


def test_method_not_allowed_is_in_error_shape(client, alice):
    assert_error(client.patch("/v1/fragments", headers=alice), 405)


def test_request_id_is_echoed_or_made(client):
    assert client.get("/", headers={"X-Request-Id": "abc"}).headers["x-request-id"] == "abc"
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/").headers["x-request-id"])
