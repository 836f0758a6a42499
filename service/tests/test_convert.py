"""Every conversion of the table, and the ones that must be refused."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from PIL import Image, features

from support import assert_error, image_bytes, post

AVIF = pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF codec")


def fetch(client, auth, body, content_type, extension):
    fragment_id = post(client, auth, body, content_type).json()["fragment"]["id"]
    return client.get(f"/v1/fragments/{fragment_id}.{extension}", headers=auth)


@pytest.mark.parametrize(("stored", "extension"), [
    ("text/plain", "txt"),
    ("text/markdown", "md"),
    ("text/markdown", "txt"),
    ("text/html", "html"),
    ("text/csv", "csv"),
    ("text/csv", "txt"),
    ("application/json", "json"),
    ("application/json", "txt"),
    ("application/yaml", "yaml"),
    ("application/yaml", "txt"),
    ("text/xml", "txt"),
])
def test_same_or_text_conversions_keep_the_bytes(client, alice, stored, extension):
    body = b'{"a": 1}' if "json" in stored else b"a,b\n1,2\n"
    response = fetch(client, alice, body, stored, extension)
    assert response.status_code == 200
    assert response.content == body


def test_markdown_to_html_renders_like_markdown_it(client, alice):
    response = fetch(client, alice, b"# Title\n\nSome *text*", "text/markdown", "html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<h1>Title</h1>\n<p>Some <em>text</em></p>\n"


def test_html_to_text_drops_markup_and_scripts(client, alice):
    body = b"<html><head><style>p{}</style><script>x()</script></head><body><p>Hello <b>you</b></p></body></html>"
    response = fetch(client, alice, body, "text/html", "txt")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Hello you"


def test_csv_to_json(client, alice):
    response = fetch(client, alice, b"name,age\nann,30\nbo,4\n", "text/csv", "json")
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.text) == [{"name": "ann", "age": "30"}, {"name": "bo", "age": "4"}]


@pytest.mark.parametrize("extension", ["yaml", "yml"])
def test_json_to_yaml(client, alice, extension):
    response = fetch(client, alice, b'{"b": [1, 2], "a": "x"}', "application/json", extension)
    assert response.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(response.text) == {"b": [1, 2], "a": "x"}


def test_broken_json_to_yaml_is_415(client, alice):
    assert_error(fetch(client, alice, b"{not json", "application/json", "yaml"), 415)


@pytest.mark.parametrize(("stored", "extension"), [
    ("text/plain", "html"),
    ("text/plain", "json"),
    ("text/markdown", "json"),
    ("text/html", "md"),
    ("text/csv", "yaml"),
    ("application/json", "csv"),
    ("application/yaml", "json"),
    ("text/plain", "png"),
    ("text/plain", "exe"),
    ("text/plain", ""),
])
def test_impossible_conversions_are_415(client, alice, stored, extension):
    assert_error(fetch(client, alice, b"x", stored, extension), 415)


IMAGES = [("image/png", "PNG"), ("image/jpeg", "JPEG"), ("image/webp", "WEBP"), ("image/gif", "GIF")]
TARGETS = [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF")]


@pytest.mark.parametrize(("stored", "source_format"), IMAGES)
@pytest.mark.parametrize(("extension", "target_format"), TARGETS)
def test_image_conversions(client, alice, stored, source_format, extension, target_format):
    mode = "RGB" if source_format == "JPEG" else "RGBA"
    response = fetch(client, alice, image_bytes(source_format, mode), stored, extension)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    assert image.format == target_format
    assert image.size == (4, 3)


@AVIF
def test_avif_both_ways(client, alice):
    response = fetch(client, alice, image_bytes("PNG"), "image/png", "avif")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/avif"
    back = fetch(client, alice, response.content, "image/avif", "png")
    assert Image.open(io.BytesIO(back.content)).format == "PNG"


def test_image_to_text_is_415(client, alice):
    assert_error(fetch(client, alice, image_bytes("PNG"), "image/png", "txt"), 415)


def test_corrupt_image_conversion_is_415(client, alice):
    assert_error(fetch(client, alice, b"not a png", "image/png", "jpg"), 415)
