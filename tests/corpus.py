"""Fragments of every kind, posted once and read back through any address: what "nothing
lost" is measured with (the same bytes, type, size and creation time, through every host);
and call(), one request to the service as a user."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request

from PIL import Image


def png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 2), (seed % 256, 40, 200)).save(out, format="PNG")
    return out.getvalue()


def sample(index: int) -> tuple[str, bytes]:
    """The index-th fragment: text, JSON, Markdown and PNG in turn, each different."""
    kind = index % 4
    if kind == 0:
        return "text/plain", f"fragment {index}: nothing lost\n".encode()
    if kind == 1:
        return "application/json", json.dumps({"index": index, "kept": True}).encode()
    if kind == 2:
        return "text/markdown", f"# Fragment {index}\n\n*kept* through every change\n".encode()
    return "image/png", png(index)


def call(url: str, user: str, password: str, method: str = "GET", body: bytes | None = None,
         content_type: str = "text/plain", timeout: float = 30) -> tuple[int, bytes, object]:
    """One request with HTTP Basic credentials: (status, body, headers), errors included."""
    headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
               "Content-Type": content_type}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


class Corpus:
    def __init__(self, user: str, password: str, count: int = 52):
        self.user, self.password = user, password
        self.count = count
        self.stored: dict[str, tuple[bytes, dict]] = {}  # id -> (bytes, metadata as created)

    def _call(self, url: str, method: str = "GET", body: bytes | None = None, content_type: str = "text/plain"):
        return call(url, self.user, self.password, method, body, content_type, timeout=10)

    def post(self, url: str) -> None:
        """Post every fragment through `url` (a host's or the load balancer's address)."""
        for index in range(self.count):
            content_type, data = sample(index)
            status, body, _ = self._call(f"{url}/v1/fragments", "POST", data, content_type)
            assert status == 201, (status, body[:200])
            fragment = json.loads(body)["fragment"]
            self.stored[fragment["id"]] = (data, fragment)

    def problems(self, url: str) -> list[str]:
        """What `url` does not give back as it was posted: [] when every fragment is there,
        byte for byte, with the metadata it was created with."""
        found = []
        for fragment_id, (data, created) in self.stored.items():
            status, body, _ = self._call(f"{url}/v1/fragments/{fragment_id}")
            if status != 200 or body != data:
                found.append(f"{fragment_id}: GET answered {status}, {len(body)} bytes")
                continue
            status, body, _ = self._call(f"{url}/v1/fragments/{fragment_id}/info")
            if status != 200 or json.loads(body).get("fragment") != created:
                found.append(f"{fragment_id}: info answered {status}: {body[:120]!r}")
        return found
