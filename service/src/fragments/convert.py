"""Which types are stored, and what each may be fetched as."""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from html.parser import HTMLParser

# Pillow, markdown-it and PyYAML are imported where a conversion first needs them: at the
# top they were 0.09 s of every start, before the service could answer its health check.

IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/avif": "AVIF",
}
EXTENSIONS = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "csv": "text/csv",
    "json": "application/json",
    "yaml": "application/yaml",
    "yml": "application/yaml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "avif": "image/avif",
}
# Stored media type -> media types it may be fetched as (besides any text/* as .txt).
CONVERSIONS = {
    "text/plain": {"text/plain"},
    "text/markdown": {"text/markdown", "text/html", "text/plain"},
    "text/html": {"text/html", "text/plain"},
    "text/csv": {"text/csv", "text/plain", "application/json"},
    "application/json": {"application/json", "application/yaml", "text/plain"},
    "application/yaml": {"application/yaml", "text/plain"},
    **{image: set(IMAGE_TYPES) for image in IMAGE_TYPES},
}


class ConversionError(ValueError):
    """The data cannot be turned into the asked type."""


@cache
def _avif_supported() -> bool:
    from PIL import features

    return features.check("avif")


@cache
def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def media_type(content_type: str) -> str:
    """`text/plain; charset=utf-8` -> `text/plain`."""
    return content_type.split(";", 1)[0].strip().lower()


def is_supported(content_type: str) -> bool:
    kind = media_type(content_type)
    if kind == "image/avif" and not _avif_supported():
        return False
    return kind.startswith("text/") or kind in CONVERSIONS


def target_for(extension: str) -> str | None:
    return EXTENSIONS.get(extension.lower())


def can_convert(stored: str, target: str) -> bool:
    source = media_type(stored)
    if target == "image/avif" and not _avif_supported():
        return False
    if source == target:
        return True
    if source.startswith("text/") and target == "text/plain":
        return True
    return target in CONVERSIONS.get(source, set())


def convert(data: bytes, stored: str, target: str) -> tuple[bytes, str]:
    """Return (data, Content-Type) of `data` (of type `stored`) as `target`."""
    source = media_type(stored)
    if source == target:
        return data, stored
    if target in IMAGE_TYPES:
        return _convert_image(data, target), target
    text = data.decode("utf-8", errors="replace")
    if target == "text/plain":
        converted = _html_to_text(text) if source == "text/html" else text
    elif target == "text/html":
        converted = _markdown().render(text)
    elif target == "application/json":
        converted = json.dumps(list(csv.DictReader(io.StringIO(text))))
    elif target == "application/yaml":
        import yaml

        try:
            converted = yaml.safe_dump(json.loads(text), sort_keys=False, allow_unicode=True)
        except json.JSONDecodeError as exc:
            raise ConversionError(f"stored JSON does not parse: {exc}") from exc
    else:  # pragma: no cover - can_convert() admits nothing else
        raise ConversionError(f"no conversion from {source} to {target}")
    charset = "; charset=utf-8"
    return converted.encode("utf-8"), target + charset


def _convert_image(data: bytes, target: str) -> bytes:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError) as exc:
        raise ConversionError(f"stored image does not decode: {exc}") from exc
    if target == "image/jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format=IMAGE_TYPES[target])
    return out.getvalue()


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
