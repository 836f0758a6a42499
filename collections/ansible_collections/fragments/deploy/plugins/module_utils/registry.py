# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""A small client of the registry HTTP API v2 (Docker Hub, ECR, Distribution): asks
for a manifest's digest, answering Basic and Bearer-token challenges.

Credentials go only where they cannot be read on the way: over https to the registry, or
to the token service (realm) the registry names when that is on https too; a plain-http
registry gets them only on a loopback address. Redirects are followed here, not by
urllib, so that the Authorization header never follows one to another host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import ipaddress
import json
import re
import socket
import ssl
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin, urlsplit

from ansible.module_utils.urls import open_url

# Every manifest kind a tag can point at. Without these Distribution 2.8 answers with
# a schema1 manifest whose digest is not the one `docker push` printed.
MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REDIRECTS = (301, 302, 303, 307, 308)


def safe_for_credentials(url):
    """Whether a password may travel to `url`: https, or plain http to a loopback address."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    try:
        return parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return parts.hostname == "localhost"


class RegistryError(Exception):
    """A failure with a message that says what to fix."""


class ManifestUnknown(RegistryError):
    """The registry has no such tag or digest in the repository (HTTP 404)."""


class Registry(object):
    def __init__(self, host, username=None, password=None, ca_path=None, validate_certs=True,
                 scheme="https", timeout=30):
        self.host = host
        self.username = username
        self.password = password
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.base = "%s://%s" % (scheme, host)
        self.timeout = timeout
        self._token = None

    def _basic(self):
        raw = ("%s:%s" % (self.username, self.password)).encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _open(self, method, url, headers):
        """One request, following up to five redirects: never from https to http, and
        without the Authorization header once one leads to another host."""
        for dummy in range(6):
            try:
                return open_url(url, method=method, headers=headers, ca_path=self.ca_path,
                                validate_certs=self.validate_certs, timeout=self.timeout,
                                force_basic_auth=False, follow_redirects="none")
            except HTTPError as exc:
                location = exc.headers.get("Location") if exc.code in _REDIRECTS else None
                if not location:
                    raise
                target = urljoin(url, location)
                if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                    raise RegistryError("registry %s redirected %s to %s, away from https: refused" %
                                        (self.host, url, target))
                if urlsplit(target).netloc != urlsplit(url).netloc:
                    headers = dict((k, v) for k, v in headers.items() if k.lower() != "authorization")
                method = "GET" if exc.code == 303 else method
                url = target
            except (URLError, socket.error, ssl.SSLError) as exc:
                reason = getattr(exc, "reason", exc)
                hint = ""
                if "CERTIFICATE" in str(reason).upper():
                    hint = " (set ca_path to the CA file that signed the registry's certificate)"
                raise RegistryError("cannot reach registry %s at %s: %s%s" % (self.host, url, reason, hint))
        raise RegistryError("registry %s redirected more than five times, last to %s" % (self.host, url))

    def _authorize(self, challenge, scope):
        scheme, dummy, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.username:
                raise RegistryError("registry %s wants a user name and password; none were given" % self.host)
            if not safe_for_credentials(self.base):
                raise RegistryError("registry %s asks for the password over plain http, where it could be read on the "
                                    "way: refused. Serve the registry over https (plain http only on 127.0.0.1)."
                                    % self.host)
            return self._basic()
        if scheme.lower() != "bearer":
            raise RegistryError("registry %s asks for unsupported authentication %r" % (self.host, scheme))
        fields = dict(_CHALLENGE_PARAM.findall(params))
        if "realm" not in fields:
            raise RegistryError("registry %s sent a Bearer challenge without a realm: %r" % (self.host, challenge))
        if self.username and not safe_for_credentials(fields["realm"]):
            raise RegistryError("registry %s names a token service on plain http (%s), where the password could be "
                                "read on the way: refused" % (self.host, fields["realm"]))
        query = {"service": fields.get("service", "")}
        query["scope"] = fields.get("scope") or scope
        headers = {"Authorization": self._basic()} if self.username else {}
        url = fields["realm"] + ("&" if "?" in fields["realm"] else "?") + urlencode(query)
        try:
            response = self._open("GET", url, headers)
        except HTTPError as exc:
            if exc.code in (401, 403):
                raise RegistryError("the token service of %s refused the credentials of user %r" %
                                    (self.host, self.username or "(anonymous)"))
            raise RegistryError("the token service of %s answered HTTP %s" % (self.host, exc.code))
        body = json.loads(response.read().decode("utf-8"))
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError("the token service of %s answered without a token" % self.host)
        return "Bearer " + token

    def request(self, method, path, scope, headers=None):
        """Send a request, answering one authentication challenge; return the response."""
        url = self.base + path
        headers = dict(headers or {})
        if self._token:
            headers["Authorization"] = self._token
        try:
            return self._open(method, url, headers)
        except HTTPError as exc:
            if exc.code != 401 or self._token:
                raise
            challenge = exc.headers.get("WWW-Authenticate", "")
        self._token = self._authorize(challenge, scope)
        headers["Authorization"] = self._token
        try:
            return self._open(method, url, headers)
        except HTTPError as exc:
            if exc.code == 401:
                raise RegistryError("registry %s refused the credentials of user %r" %
                                    (self.host, self.username or "(anonymous)"))
            raise

    def manifest_digest(self, repository, reference):
        """Digest (sha256:...) and media type of repository:reference."""
        path = "/v2/%s/manifests/%s" % (repository, reference)
        scope = "repository:%s:pull" % repository
        try:
            response = self.request("HEAD", path, scope, {"Accept": MANIFEST_TYPES})
            digest = response.headers.get("Docker-Content-Digest")
            media_type = response.headers.get("Content-Type")
            if not digest:  # some registries only send it with the body
                response = self.request("GET", path, scope, {"Accept": MANIFEST_TYPES})
                digest = "sha256:" + hashlib.sha256(response.read()).hexdigest()
                media_type = response.headers.get("Content-Type")
        except HTTPError as exc:
            if exc.code == 404:
                raise ManifestUnknown("%s not found in repository %s at registry %s" % (
                    "digest " + reference if ":" in reference else "tag " + reference, repository, self.host))
            if exc.code == 403:
                raise RegistryError("registry %s denies user %r access to repository %s" % (
                    self.host, self.username or "(anonymous)", repository))
            raise RegistryError("registry %s answered HTTP %s for %s" % (self.host, exc.code, path))
        return digest, media_type
