"""The registry client's answers to authentication challenges and its Accept header, in
this process. (The requests themselves run against the lab's Distribution registry, with
htpasswd and behind a token service, in the project's end-to-end tests.)"""

from __future__ import annotations

import base64

import pytest

from ansible_collections.fragments.deploy.plugins.module_utils.registry import MANIFEST_TYPES, Registry, RegistryError


def test_basic_challenge_is_answered_with_the_credentials():
    header = Registry("registry.example:5000", "alice", "s3cret")._authorize('Basic realm="Registry"', "scope")
    assert header == "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_basic_challenge_without_credentials_says_what_is_missing():
    with pytest.raises(RegistryError, match="wants a user name and password; none were given"):
        Registry("registry.example:5000")._authorize('Basic realm="Registry"', "scope")


def test_unknown_scheme_is_named():
    with pytest.raises(RegistryError, match="unsupported authentication 'Negotiate'"):
        Registry("registry.example:5000", "a", "b")._authorize("Negotiate abc", "scope")


def test_bearer_challenge_without_a_realm_is_refused():
    with pytest.raises(RegistryError, match="Bearer challenge without a realm"):
        Registry("registry.example:5000")._authorize('Bearer service="registry"', "scope")


def test_bearer_challenge_asks_the_realm_for_the_scope(monkeypatch):
    asked = {}

    class Answer:
        def read(self):
            return b'{"token": "t0k3n"}'

    def open_(method, url, headers):
        asked.update(method=method, url=url, headers=headers)
        return Answer()

    registry = Registry("registry.example:5000", "alice", "s3cret")
    monkeypatch.setattr(registry, "_open", open_)
    header = registry._authorize('Bearer realm="https://auth.example/token",service="registry.example"',
                                 "repository:team/app:pull")
    assert header == "Bearer t0k3n"
    assert asked["url"] == ("https://auth.example/token?service=registry.example"
                            "&scope=repository%3Ateam%2Fapp%3Apull")
    assert asked["headers"]["Authorization"].startswith("Basic ")


def test_every_manifest_kind_is_accepted():
    # Without all four, Distribution 2.8 answers a schema1 manifest of another digest.
    assert set(MANIFEST_TYPES.split(", ")) == {
        "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"}


def test_a_password_never_goes_over_plain_http_but_to_loopback():
    with pytest.raises(RegistryError, match="asks for the password over plain http"):
        Registry("registry.example:5000", "alice", "s3cret", scheme="http")._authorize('Basic realm="R"', "scope")
    assert Registry("127.0.0.1:5000", "alice", "s3cret", scheme="http")._authorize('Basic realm="R"', "scope")


def test_a_token_service_on_plain_http_gets_no_password():
    with pytest.raises(RegistryError, match=r"names a token service on plain http \(http://auth.example/token\)"):
        Registry("registry.example:5000", "alice", "s3cret")._authorize('Bearer realm="http://auth.example/token"', "s")


def test_a_redirect_to_another_host_goes_without_the_credentials():
    """Two real servers on loopback: the registry redirects the manifest to another host
    (as registries do to blob storage); that host must not see the Authorization header."""
    import http.server
    import threading

    seen = {}

    def server(answer):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):  # noqa: N802 - the handler's API
                seen[self.server.server_address[1]] = self.headers.get("Authorization")
                answer(self)

            def log_message(self, *args):
                pass
        running = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=running.serve_forever, daemon=True).start()
        return running

    def storage_answer(handler):
        handler.send_response(200)
        handler.send_header("Docker-Content-Digest", "sha256:" + "c" * 64)
        handler.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        handler.end_headers()

    storage = server(storage_answer)
    # "localhost" and "127.0.0.1" are different hosts to a client, both on loopback here.
    elsewhere = "http://localhost:%d/blob" % storage.server_address[1]

    def registry_answer(handler):
        handler.send_response(307)
        handler.send_header("Location", elsewhere)
        handler.end_headers()

    registry_server = server(registry_answer)
    try:
        registry = Registry("127.0.0.1:%d" % registry_server.server_address[1], "alice", "s3cret", scheme="http")
        registry._token = registry._basic()
        expected = ("sha256:" + "c" * 64, "application/vnd.oci.image.manifest.v1+json")
        assert registry.manifest_digest("team/app", "v1") == expected
        assert seen[registry_server.server_address[1]] == registry._basic()
        assert seen[storage.server_address[1]] is None
    finally:
        registry_server.shutdown()
        storage.shutdown()
