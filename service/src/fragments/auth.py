"""HTTP Basic auth against an htpasswd file of bcrypt hashes (`htpasswd -B`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading

import bcrypt


class Htpasswd:
    """Users and bcrypt hashes; a verified password is remembered so only the first
    request of a user pays for bcrypt (about 50 ms by design)."""

    def __init__(self, users: dict[str, bytes]):
        self._users = users
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str) -> Htpasswd:
        users: dict[str, bytes] = {}
        with open(path, encoding="utf-8") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                user, sep, hashed = line.partition(":")
                if not sep or not hashed.startswith(("$2y$", "$2b$", "$2a$")):
                    raise ValueError(f"{path}:{number}: expected 'user:<bcrypt hash>' as `htpasswd -B` writes")
                # bcrypt treats $2y$ (Apache's name) exactly as $2b$.
                users[user] = ("$2b$" + hashed[4:]).encode()
        return cls(users)

    def check(self, user: str, password: str) -> bool:
        hashed = self._users.get(user)
        if hashed is None:
            return False
        fingerprint = hashlib.sha256(hashed + b"\0" + password.encode()).digest()
        remembered = self._verified.get(user)
        if remembered is not None and hmac.compare_digest(remembered, fingerprint):
            return True
        if not bcrypt.checkpw(password.encode(), hashed):
            return False
        with self._lock:
            self._verified[user] = fingerprint
        return True


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
