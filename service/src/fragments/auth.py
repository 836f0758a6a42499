"""Who makes a request: HTTP Basic auth against an htpasswd file of bcrypt hashes
(`htpasswd -B`), or an Amazon Cognito user pool's ID token as a Bearer token."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import ssl
import threading
import time
from collections import OrderedDict, deque

import bcrypt
import certifi

# $2y$ (Apache's htpasswd -B), $2b$ (bcrypt's own) or $2a$, a two-digit cost, 53 characters.
BCRYPT_HASH = re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")


class Htpasswd:
    """Users and bcrypt hashes; a verified password is remembered so only the first
    request of a user pays for bcrypt (about 50 ms by design). An unknown user costs a
    bcrypt check too, against a hash of the same cost, so that the answer's time does not
    say which names exist."""

    def __init__(self, users: dict[str, bytes]):
        self._users = users
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        # An unknown name is checked against the file's costliest hash (its answer ignored):
        # no hash is made at start, where one of cost 12 took 0.25 s of the service's start.
        self._unknown = max(users.values(), key=lambda hashed: int(hashed.split(b"$")[2]), default=None)

    @classmethod
    def load(cls, path: str) -> Htpasswd:
        users: dict[str, bytes] = {}
        with open(path, encoding="utf-8") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                user, sep, hashed = line.partition(":")
                if not sep or not BCRYPT_HASH.match(hashed):
                    raise ValueError(f"{path}:{number}: expected 'user:<bcrypt hash>' as `htpasswd -B` writes")
                # bcrypt treats $2y$ (Apache's name) exactly as $2b$.
                users[user] = ("$2b$" + hashed[4:]).encode()
        return cls(users)

    def _fingerprint(self, user: str, password: str) -> bytes | None:
        hashed = self._users.get(user)
        return None if hashed is None else hashlib.sha256(hashed + b"\0" + password.encode()).digest()

    def remembered(self, user: str, password: str) -> bool:
        """Whether this password was verified for this user before: no bcrypt, so it may run
        on the event loop."""
        fingerprint = self._fingerprint(user, password)
        remembered = self._verified.get(user)
        return fingerprint is not None and remembered is not None and hmac.compare_digest(remembered, fingerprint)

    def check(self, user: str, password: str) -> bool:
        """The whole check, bcrypt included (tens of milliseconds: call it off the event loop)."""
        if self.remembered(user, password):
            return True
        hashed = self._users.get(user)
        if self._unknown is None:  # no users: no name to hide
            return False
        if not bcrypt.checkpw(password.encode(), hashed or self._unknown) or hashed is None:
            return False
        with self._lock:
            self._verified[user] = self._fingerprint(user, password)
        return True


class FailedLogins:
    """Failed logins per client address in a sliding window (a minute): past `limit` of them
    the address is refused until its oldest failure leaves the window, before any bcrypt. An
    attempt counts as failed from its start (forgive() when it succeeds), so checks running
    side by side cannot exceed the limit.
    At most `capacity` addresses are kept, the least recently seen forgotten first, so a flood
    of made-up addresses cannot grow it."""

    def __init__(self, limit: int, window: float = 60.0, capacity: int = 10000, clock=time.monotonic):
        self.limit, self.window, self.capacity, self.clock = limit, window, capacity, clock
        self._failures: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque | None:
        times = self._failures.get(address)
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def wait(self, address: str) -> float:
        """Seconds until this address may try a password again; 0 when it may now."""
        if self.limit <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if not times or len(times) < self.limit:
                return 0.0
            return max(self.window - (now - times[0]), 0.001)

    def forgive(self, address: str) -> None:
        """Take back the newest failure of this address (an attempt counted ahead that succeeded)."""
        with self._lock:
            times = self._failures.get(address)
            if times:
                times.pop()

    def failed(self, address: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._recent(address, now)
            if times is None:
                times = self._failures[address] = deque(maxlen=max(self.limit, 1))
            times.append(now)
            self._failures.move_to_end(address)
            while len(self._failures) > self.capacity:
                self._failures.popitem(last=False)


def client_address(forwarded_for: str | None, peer: str | None, hops: int) -> str:
    """The client's address: the one `hops` proxies back in X-Forwarded-For (each proxy
    appends the address it saw; 1 = the host's nginx, 2 = a load balancer before it), else
    the peer's. Entries a client wrote itself come before those and are never taken."""
    entries = [entry.strip() for entry in (forwarded_for or "").split(",") if entry.strip()]
    if hops > 0 and entries:
        return entries[-min(hops, len(entries))]
    return peer or "unknown"


def tls_context(extra_ca_file: str | None = None) -> ssl.SSLContext:
    """Whom the service trusts over HTTPS: the public CAs of certifi's bundle (kept current by
    its maintainers; the image has no system store), and one more CA only where a setting
    names its file (FRAGMENTS_CA_FILE: a lab's own CA)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if extra_ca_file:
        try:
            context.load_verify_locations(cafile=extra_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"FRAGMENTS_CA_FILE {extra_ca_file} is not a readable PEM certificate: {exc}") from exc
    return context


class CognitoUnavailable(Exception):
    """The pool's keys cannot be fetched: no token can be checked now."""


class Cognito:
    """ID tokens of one Amazon Cognito user pool and app client, as the fragments service
    takes them in production: an RS256 signature by a key of the pool's JWKS (fetched once
    and cached, fetched again for a key id it does not know, at most every 30 s), the pool as issuer, the app
    client as audience, `token_use` "id" (access tokens are refused), not expired. The
    owner is the token's `sub`, which no user can change (an email is an attribute a user
    may be allowed to set to someone else's)."""

    def __init__(self, issuer: str, client_id: str, jwks_url: str, refetch_after: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None):
        import jwt  # here: only Cognito's users need it, 0.1 s of every start otherwise

        self.issuer, self.client_id, self._jwt = issuer, client_id, jwt
        # Cognito rotates keys rarely; a token signed by a key not in the cache makes PyJWT
        # fetch the set again, at most every `refetch_after` seconds (a flood of made-up key
        # ids cannot hammer the pool's endpoint).
        self._keys = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=24 * 3600, timeout=5,
                                     cooldown_duration=refetch_after, ssl_context=ssl_context or tls_context())

    def user(self, token: str) -> str | None:
        """The token's user, or None when the token is not a valid ID token of the pool."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
        except self._jwt.PyJWKClientConnectionError as exc:
            raise CognitoUnavailable(str(exc)) from exc
        except self._jwt.PyJWTError:
            return None
        try:
            claims = self._jwt.decode(token, key.key, algorithms=["RS256"], audience=self.client_id,
                                      issuer=self.issuer, options={"require": ["exp", "iss", "aud", "token_use", "sub"]})
        except self._jwt.PyJWTError:
            return None
        if claims.get("token_use") != "id":
            return None
        return claims["sub"] or None


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    scheme, _, value = (header or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """The (user, password) of an `Authorization: Basic ...` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def owner_id(user: str) -> str:
    """Fragments are owned by the hex SHA-256 of the user, never the plain name."""
    return hashlib.sha256(user.encode("utf-8")).hexdigest()
