"""A Distribution registry configured for token auth, and a small token server in
front of it: the bearer flow Docker Hub uses, for real, on loopback."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

SERVICE = "fragments-e2e"
ISSUER = "fragments-e2e-token-server"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(hours=1))
                     .sign(self.key, hashes.SHA256()))

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def token(self, user: str, scope: str) -> str:
        access = []
        if scope:
            kind, name, actions = scope.split(":", 2)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(8), "access": access}
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class TokenServer:
    """GET /token?service=...&scope=... with Basic auth -> {"token": ...}."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.issuer = TokenIssuer()
        self.requests: list[str] = []
        expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                outer.requests.append(url.path)
                if url.path != "/token" or self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                query = parse_qs(url.query)
                body = json.dumps({"token": outer.issuer.token(username, query.get("scope", [""])[0])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.realm = f"http://127.0.0.1:{port}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def registry_config(realm: str, port: int) -> str:
    return f"""version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  maintenance:
    readonly:
      enabled: true
http:
  addr: ":{port}"
  tls:
    certificate: /etc/docker/registry/registry.crt
    key: /etc/docker/registry/registry.key
auth:
  token:
    realm: {realm}
    service: {SERVICE}
    issuer: {ISSUER}
    rootcertbundle: /etc/docker/registry/token.crt
"""


def run_token_registry(client, name: str, port: int, state_dir: Path, data_volume: str, work: Path, realm: str):
    """Serve the lab registry's data, read-only, behind token auth on 127.0.0.1:port."""
    (work / "config.yml").write_text(registry_config(realm, port))
    return client.containers.run(
        "fragments-lab/registry:2.8", detach=True, name=name,
        ports={f"{port}/tcp": ("127.0.0.1", port)},
        volumes={
            data_volume: {"bind": "/var/lib/docker-registry", "mode": "ro"},
            str(work / "config.yml"): {"bind": "/etc/docker/registry/config.yml", "mode": "ro"},
            str(work / "token.crt"): {"bind": "/etc/docker/registry/token.crt", "mode": "ro"},
            str(state_dir / "server.crt"): {"bind": "/etc/docker/registry/registry.crt", "mode": "ro"},
            str(state_dir / "server.key"): {"bind": "/etc/docker/registry/registry.key", "mode": "ro"},
        },
    )
