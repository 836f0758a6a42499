"""Who may use the service: Amazon Cognito ID tokens, checked against a user pool of moto's
server (the AWS API on 127.0.0.1, started here); users from htpasswd or Cognito, never
both; and a refused upload answered so that a client sending the whole body reads it."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import anyio
import bcrypt
import boto3
import httpx
import jwt
import moto
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from fragments.app import create_app
from fragments.auth import FailedLogins, Htpasswd, client_address
from fragments.config import Settings
from support import assert_error, free_port, make_settings

PASSWORD = "Secret-Passw0rd!"


def pool(idp, name: str, clients: int = 1) -> dict:
    pool_id = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
    client_ids = [idp.create_user_pool_client(UserPoolId=pool_id, ClientName=f"web-{n}",
                                              ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
                  for n in range(clients)]
    idp.admin_create_user(UserPoolId=pool_id, Username="alice@example.com",
                          UserAttributes=[{"Name": "email", "Value": "alice@example.com"}])
    idp.admin_set_user_password(UserPoolId=pool_id, Username="alice@example.com", Password=PASSWORD, Permanent=True)
    return {"id": pool_id, "clients": client_ids}


def login(idp, pool_info: dict, client: int = 0) -> dict:
    return idp.initiate_auth(ClientId=pool_info["clients"][client], AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "alice@example.com", "PASSWORD": PASSWORD})["AuthenticationResult"]


@pytest.fixture(scope="module")
def cognito(moto_server):
    idp = boto3.client("cognito-idp", endpoint_url=moto_server, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    ours, other = pool(idp, "fragments", clients=2), pool(idp, "someone-else")
    return {"idp": idp, "pool": ours, "other": other, "url": moto_server,
            "tokens": login(idp, ours), "other_client": login(idp, ours, client=1), "other_pool": login(idp, other)}


def cognito_env(cognito, **extra) -> dict:
    return {"AWS_COGNITO_POOL_ID": cognito["pool"]["id"], "AWS_COGNITO_CLIENT_ID": cognito["pool"]["clients"][0],
            "AWS_COGNITO_JWKS_URL": f"{cognito['url']}/{cognito['pool']['id']}/.well-known/jwks.json",
            "LOG_LEVEL": "warning", **extra}


@pytest.fixture
def client(cognito):
    with TestClient(create_app(Settings.from_env(cognito_env(cognito)))) as test_client:
        yield test_client


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def signed(cognito, private_key, **changes) -> str:
    """An ID token of our pool and client, with `changes`, signed by `private_key` (kid dummy)."""
    now = int(time.time())
    claims = {"iss": f"https://cognito-idp.us-east-1.amazonaws.com/{cognito['pool']['id']}",
              "aud": cognito["pool"]["clients"][0], "token_use": "id", "sub": "x", "email": "alice@example.com",
              "iat": now, "exp": now + 600, **changes}
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": "dummy"})


def pool_private_key():
    """The key moto signs every pool's tokens with (its package's resource file)."""
    path = Path(moto.__file__).parent / "cognitoidp/resources/jwks-private.json.gz"
    return jwt.algorithms.RSAAlgorithm.from_jwk(json.loads(gzip.decompress(path.read_bytes())))


def test_an_id_token_of_the_pool_is_accepted_and_owns_by_its_sub(client, cognito):
    token = cognito["tokens"]["IdToken"]
    sub = jwt.decode(token, options={"verify_signature": False})["sub"]
    created = client.post("/v1/fragments", content=b"hi", headers={**bearer(token), "Content-Type": "text/plain"})
    assert created.status_code == 201
    assert created.json()["fragment"]["ownerId"] == hashlib.sha256(sub.encode()).hexdigest()
    assert client.get("/v1/fragments", headers=bearer(token)).json()["fragments"] == [created.json()["fragment"]["id"]]
    # A token of ours signed with the pool's key, fresh: accepted too (the key is the one that counts).
    assert client.get("/v1/fragments", headers=bearer(signed(cognito, pool_private_key()))).status_code == 200


def test_a_user_who_sets_another_s_email_still_owns_only_their_own(client, cognito):
    """Mallory sets her email attribute to Alice's: her token carries Alice's email but her own
    sub, and she sees none of Alice's fragments."""
    alice = bearer(signed(cognito, pool_private_key(), sub="alice-sub", email="alice@example.com"))
    mallory = bearer(signed(cognito, pool_private_key(), sub="mallory-sub", email="alice@example.com"))
    created = client.post("/v1/fragments", content=b"alice's", headers={**alice, "Content-Type": "text/plain"})
    assert created.status_code == 201
    fragment_id = created.json()["fragment"]["id"]
    assert client.get("/v1/fragments", headers=mallory).json()["fragments"] == []
    assert_error(client.get(f"/v1/fragments/{fragment_id}", headers=mallory), 404)
    assert_error(client.delete(f"/v1/fragments/{fragment_id}", headers=mallory), 404)
    assert client.get(f"/v1/fragments/{fragment_id}", headers=alice).content == b"alice's"


@pytest.mark.parametrize("case", ["access token", "expired", "another key", "another pool", "another client",
                                  "no token", "no sub", "basic auth", "garbage"])
def test_other_tokens_are_refused_with_401(client, cognito, case):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = {
        "access token": bearer(cognito["tokens"]["AccessToken"]),
        "expired": bearer(signed(cognito, pool_private_key(), iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "another key": bearer(signed(cognito, other_key)),
        "another pool": bearer(cognito["other_pool"]["IdToken"]),
        "another client": bearer(cognito["other_client"]["IdToken"]),
        "no token": {},
        "no sub": bearer(signed(cognito, pool_private_key(), sub=None)),
        "basic auth": {"Authorization": "Basic YWxpY2VAZXhhbXBsZS5jb206U2VjcmV0"},
        "garbage": bearer("not.a.token"),
    }[case]
    response = client.get("/v1/fragments", headers=headers)
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_keys_are_fetched_once_and_again_only_for_a_key_id_not_known(cognito, moto_server):
    """With the pool's keys cached, the service checks tokens while the JWKS is out of reach;
    a token with a key id it does not know makes it fetch them again (503 while unreachable),
    once the refetch cooldown (30 s in service, shortened here) has passed."""
    env = cognito_env(cognito, AWS_COGNITO_JWKS_URL=f"{relay_url(cognito)}/{cognito['pool']['id']}/.well-known/jwks.json")
    settings = dataclasses.replace(Settings.from_env(env), jwks_refetch_after=0.5)
    with TestClient(create_app(settings)) as client:
        token = cognito["tokens"]["IdToken"]
        assert client.get("/v1/fragments", headers=bearer(token)).status_code == 200
        assert RELAY["fetches"] == 1
        RELAY["down"] = True
        assert client.get("/v1/fragments", headers=bearer(token)).status_code == 200  # from the cache
        unknown = jwt.encode({"token_use": "id"}, pool_private_key(), algorithm="RS256", headers={"kid": "rotated"})
        time.sleep(0.6)  # past the refetch cooldown
        assert_error(client.get("/v1/fragments", headers=bearer(unknown)), 503)
        RELAY["down"] = False
        time.sleep(0.6)
        assert_error(client.get("/v1/fragments", headers=bearer(unknown)), 401)  # fetched again: still unknown
        assert RELAY["fetches"] == 2


RELAY = {"fetches": 0, "down": False}


def relay_url(cognito) -> str:
    """A counting relay in front of moto's JWKS, which can be made unreachable (503)."""
    import http.server

    class Relay(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if RELAY["down"]:
                self.send_error(503)
                return
            RELAY["fetches"] += 1
            with urllib.request.urlopen(cognito["url"] + self.path) as answer:
                body = answer.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize(("env", "message"), [
    ({"HTPASSWD_FILE": "/run/secrets/htpasswd", "AWS_COGNITO_POOL_ID": "us-east-1_Abc123",
      "AWS_COGNITO_CLIENT_ID": "client"}, "users come either from HTPASSWD_FILE or from Amazon Cognito"),
    ({"AWS_COGNITO_POOL_ID": "us-east-1_Abc123"}, "set both AWS_COGNITO_POOL_ID and AWS_COGNITO_CLIENT_ID"),
    ({"AWS_COGNITO_POOL_ID": "pool", "AWS_COGNITO_CLIENT_ID": "client"}, "AWS_COGNITO_POOL_ID must look like"),
    ({"HTPASSWD_FILE": "/nonexistent/htpasswd"}, "No such file or directory"),
])
def test_a_configuration_it_cannot_run_with_is_refused_at_start_in_one_line(env, message):
    proc = subprocess.run([sys.executable, "-m", "fragments"], env={"PATH": "/usr/bin:/bin", **env,
                                                                     "PYTHONPATH": ":".join(sys.path)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and proc.stderr.startswith("fragments: cannot start:")


@pytest.fixture
def server(htpasswd):
    """The service on a real uvicorn on 127.0.0.1."""
    port = free_port()
    config = uvicorn.Config(create_app(make_settings(htpasswd)), host="127.0.0.1", port=port, log_config=None)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


def too_large_with_urllib(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    raise AssertionError("the upload was accepted")


@pytest.mark.parametrize("size", [5 * 1024 * 1024 + 1, 20 * 1024 * 1024])
def test_a_too_large_fragment_is_answered_413_to_urllib(server, alice, size):
    code, body = too_large_with_urllib(f"{server}/v1/fragments", b"x" * size, {**alice, "Content-Type": "text/plain"})
    assert code == 413 and body["error"]["code"] == 413


def test_a_refused_upload_is_read_to_its_end_before_the_answer(server):
    """Unauthenticated, an 8 MB upload still gets its 401 (not a broken pipe)."""
    code, body = too_large_with_urllib(f"{server}/v1/fragments", b"x" * (8 * 1024 * 1024), {"Content-Type": "text/plain"})
    assert code == 401 and body["status"] == "error"


def test_a_too_large_fragment_is_answered_413_to_curl(server, alice, tmp_path):
    upload = tmp_path / "big"
    upload.write_bytes(b"x" * (6 * 1024 * 1024))
    proc = subprocess.run(["curl", "-sS", "-o", "-", "-w", "%{http_code}", "-H", f"Authorization: {alice['Authorization']}",
                           "-H", "Content-Type: text/plain", "--data-binary", f"@{upload}", f"{server}/v1/fragments"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("413") and '"code":413' in proc.stdout


def slow_htpasswd(tmp_path: Path) -> Path:
    """One user with a hash of bcrypt's usual cost (tens of milliseconds a check), as `htpasswd -B` writes."""
    path = tmp_path / "htpasswd-slow"
    path.write_text("alice@example.com:$2y$" + bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=10)).decode()[4:] + "\n")
    return path


def test_an_unknown_user_costs_a_bcrypt_check_like_a_wrong_password(tmp_path, monkeypatch):
    """The answer's time must not tell which names exist: both go through bcrypt, at the file's cost."""
    users = Htpasswd.load(str(slow_htpasswd(tmp_path)))
    checked = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda password, hashed: checked.append(hashed[:7]) or real(password, hashed))
    assert users.check("nobody@example.com", "right") is False
    assert users.check("alice@example.com", "wrong") is False
    assert checked == [b"$2b$10$", b"$2b$10$"]
    assert users.check("alice@example.com", "right") is True
    assert users.check("alice@example.com", "right") is True  # remembered: no third bcrypt
    assert len(checked) == 3


def test_an_unknown_user_is_checked_against_the_costliest_hash_and_none_is_made_at_start(tmp_path, monkeypatch):
    """No hash is made at start (one of cost 12 took 0.25 s of the service's start): an unknown
    name is checked against the file's costliest hash; with no users at all, nothing is checked."""
    path = tmp_path / "htpasswd-two"
    path.write_text("".join(f"{user}:" + bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=cost)).decode() + "\n"
                            for user, cost in (("cheap@example.com", 4), ("dear@example.com", 5), ("mid@example.com", 4))))
    monkeypatch.setattr(bcrypt, "hashpw", lambda *args: pytest.fail("a hash was made"))
    users = Htpasswd.load(str(path))
    checked = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda password, hashed: checked.append(hashed[:7]) or real(password, hashed))
    assert users.check("nobody@example.com", "right") is False  # the password of every user: refused all the same
    assert checked == [b"$2b$05$"]
    (tmp_path / "htpasswd-empty").write_text("# nobody yet\n")
    assert Htpasswd.load(str(tmp_path / "htpasswd-empty")).check("nobody@example.com", "right") is False
    assert checked == [b"$2b$05$"]


async def wrong_passwords(client, count: int, answered: list, headers: dict | None = None) -> None:
    """`count` wrong passwords for alice side by side; each answer's status appended to `answered` as it comes."""
    async def wrong(number: int) -> None:
        answer = await client.get("/v1/fragments", auth=("alice@example.com", f"wrong-{number}"), headers=headers or {})
        answered.append(answer.status_code)

    async with anyio.create_task_group() as group:
        for number in range(count):
            group.start_soon(wrong, number)


@pytest.mark.anyio
async def test_wrong_passwords_do_not_stall_the_health_check(tmp_path):
    """bcrypt runs in threads of its own: GET / answers while eight wrong passwords are checked."""
    app = create_app(make_settings(slow_htpasswd(tmp_path)))
    answered = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        async with anyio.create_task_group() as group:
            group.start_soon(wrong_passwords, client, 8, answered)
            await anyio.sleep(0.01)
            health = await client.get("/")
            answered_before_health = len(answered)
    assert health.status_code == 200
    assert answered_before_health <= 2, answered_before_health
    assert answered == [401] * 8


@pytest.mark.anyio
async def test_logins_past_the_queue_bound_are_refused_at_once(tmp_path):
    settings = dataclasses.replace(make_settings(slow_htpasswd(tmp_path)), max_waiting_logins=2)
    app = create_app(settings)
    answered = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        await wrong_passwords(client, 6, answered)
    assert sorted(answered) == [401, 401, 429, 429, 429, 429]


def certificate_authority(folder: Path) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a certificate it signs for 127.0.0.1: (ca, cert, key) files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def https_keys(cognito, tmp_path_factory):
    """The pool's JWKS served over HTTPS on 127.0.0.1 with a certificate of a CA of our own."""
    import http.server
    import ssl

    with urllib.request.urlopen(f"{cognito['url']}/{cognito['pool']['id']}/.well-known/jwks.json") as answer:
        keys = answer.read()

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's API
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(keys)))
            self.end_headers()
            self.wfile.write(keys)

        def log_message(self, *args):
            pass

    ca, cert, key = certificate_authority(tmp_path_factory.mktemp("tls"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"https://127.0.0.1:{server.server_address[1]}/jwks.json", "ca": ca}
    server.shutdown()


@pytest.mark.parametrize("trusted", [False, True])
def test_keys_over_https_are_trusted_only_with_the_ca_the_setting_names(cognito, https_keys, trusted):
    """The image trusts the public CAs only (certifi's bundle): a JWKS signed by another CA is
    refused (503, nothing checked) unless FRAGMENTS_CA_FILE names that CA."""
    env = cognito_env(cognito, AWS_COGNITO_JWKS_URL=https_keys["url"],
                      **({"FRAGMENTS_CA_FILE": str(https_keys["ca"])} if trusted else {}))
    with TestClient(create_app(Settings.from_env(env))) as client:
        answer = client.get("/v1/fragments", headers=bearer(cognito["tokens"]["IdToken"]))
    if trusted:
        assert answer.status_code == 200, answer.text
    else:
        assert_error(answer, 503)
        assert "keys are out of reach" in answer.json()["error"]["message"]


def test_a_ca_file_that_is_not_one_is_refused_at_start(cognito, tmp_path):
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(ValueError, match="FRAGMENTS_CA_FILE .*ca.pem is not a readable PEM certificate"):
        create_app(Settings.from_env(cognito_env(cognito, FRAGMENTS_CA_FILE=str(tmp_path / "ca.pem"))))


def test_failed_logins_past_the_limit_wait_until_the_oldest_leaves_the_minute():
    now = [1000.0]
    limiter = FailedLogins(3, window=60, capacity=2, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.wait("198.51.100.7") == 0
        limiter.failed("198.51.100.7")
        now[0] += 10
    assert limiter.wait("198.51.100.7") == pytest.approx(30)  # the first failure leaves at 1060
    assert limiter.wait("198.51.100.8") == 0
    now[0] = 1060
    assert limiter.wait("198.51.100.7") == 0
    # A flood of made-up addresses keeps at most `capacity` of them.
    for number in range(5):
        limiter.failed(f"203.0.113.{number}")
    assert limiter.wait("198.51.100.7") == 0 and len(limiter._failures) == 2
    # An attempt counted ahead and then forgiven leaves no failure.
    limiter.failed("192.0.2.1")
    limiter.forgive("192.0.2.1")
    assert len(limiter._failures["192.0.2.1"]) == 0


@pytest.mark.anyio
async def test_side_by_side_wrong_passwords_from_one_address_stop_at_the_limit(tmp_path):
    settings = dataclasses.replace(make_settings(slow_htpasswd(tmp_path)), login_failures_per_minute=3)
    app = create_app(settings)
    answered = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        await wrong_passwords(client, 8, answered, {"X-Forwarded-For": "198.51.100.7"})
    assert sorted(answered) == [401] * 3 + [429] * 5


@pytest.mark.parametrize(("forwarded", "hops", "address"), [
    (None, 1, "10.0.0.9"),                                  # no proxy header: the peer
    ("198.51.100.7", 1, "198.51.100.7"),                    # what the host's nginx saw
    ("6.6.6.6, 198.51.100.7", 1, "198.51.100.7"),           # a client's own entry is never taken
    ("6.6.6.6, 198.51.100.7, 10.42.2.9", 2, "198.51.100.7"),  # behind a load balancer
    ("198.51.100.7", 0, "10.0.0.9"),                        # no proxy trusted
])
def test_the_client_address_is_the_one_the_trusted_proxies_saw(forwarded, hops, address):
    assert client_address(forwarded, "10.0.0.9", hops) == address


def test_an_address_that_fails_too_often_is_refused_before_bcrypt_and_others_are_not(tmp_path):
    settings = dataclasses.replace(make_settings(slow_htpasswd(tmp_path)), login_failures_per_minute=3)
    with TestClient(create_app(settings)) as client:
        def ask(password: str, address: str):
            return client.get("/v1/fragments", auth=("alice@example.com", password),
                              headers={"X-Forwarded-For": address})

        assert ask("right", "198.51.100.7").status_code == 200  # remembered from now on
        assert [ask(f"wrong-{n}", "198.51.100.7").status_code for n in range(4)] == [401, 401, 401, 429]
        refused = ask("wrong-5", "198.51.100.7")
        assert_error(refused, 429)
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert ask("wrong", "198.51.100.8").status_code == 401  # another address
        assert ask("right", "198.51.100.7").status_code == 200  # a password verified before still works


@pytest.mark.parametrize(("name", "value"), [("LOGIN_FAILURES_PER_MINUTE", "many"), ("FORWARDED_HOPS", "-1")])
def test_a_limit_that_is_not_a_number_is_refused_at_start(name, value, tmp_path):
    with pytest.raises(ValueError, match=f"{name} must be a whole number, 0 or more, not '{value}'"):
        Settings.from_env({name: value})
