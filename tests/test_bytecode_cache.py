"""The toolchain's bytecode cache for imports from zips (scripts/fragments_bytecode_cache.py):
it serves code compiled before, recompiles changed or damaged entries, keeps tracebacks
naming the importing zip, and stays out of the way where its directory is not private."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lab import ROOT

SCRIPT = """
import sys
sys.path.insert(0, {scripts!r})
import fragments_bytecode_cache
print('installed' if fragments_bytecode_cache.install() else 'not-installed')
sys.path.insert(0, {zip!r})
import payload
try:
    payload.answer()
except RuntimeError as error:
    print(error, error.__traceback__.tb_next.tb_frame.f_code.co_filename)
"""


def make_zip(path: Path, answer: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("payload.py", f"def answer():\n    raise RuntimeError({answer!r})\n")
    return path


def import_from(zip_path: Path, cache: Path | str) -> list[str]:
    # -I would drop the environment: this keeps it but not the venv's own .pth copy of the cache.
    env = {**os.environ, "FRAGMENTS_BYTECODE_CACHE": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-S", "-c", SCRIPT.format(scripts=str(ROOT / "scripts"), zip=str(zip_path))],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout.split()


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "bytecode"


def test_code_compiled_once_serves_a_later_run_from_another_zip(tmp_path, cache):
    first = make_zip(tmp_path / "first.zip", "v1")
    assert import_from(first, cache) == ["installed", "v1", f"{first}/payload.py"]
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    entries = list(cache.iterdir())
    assert len(entries) == 1
    written = entries[0].stat().st_mtime_ns

    second = make_zip(tmp_path / "second.zip", "v1")
    # The same source: read, not written again, and the traceback names the zip it came from.
    assert import_from(second, cache) == ["installed", "v1", f"{second}/payload.py"]
    assert [entry.stat().st_mtime_ns for entry in cache.iterdir()] == [written]


def test_changed_source_is_compiled_again(tmp_path, cache):
    import_from(make_zip(tmp_path / "a.zip", "v1"), cache)
    changed = make_zip(tmp_path / "b.zip", "v2")
    assert import_from(changed, cache) == ["installed", "v2", f"{changed}/payload.py"]
    assert len(list(cache.iterdir())) == 2


def test_a_damaged_entry_is_compiled_again(tmp_path, cache):
    zip_path = make_zip(tmp_path / "a.zip", "v1")
    import_from(zip_path, cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"\x00not marshal data")
    assert import_from(zip_path, cache) == ["installed", "v1", f"{zip_path}/payload.py"]
    assert entry.read_bytes() != b"\x00not marshal data"


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o705])
def test_a_directory_others_may_write_or_read_is_not_used(tmp_path, cache, mode):
    cache.mkdir()
    cache.chmod(mode)
    zip_path = make_zip(tmp_path / "a.zip", "v1")
    assert import_from(zip_path, cache) == ["not-installed", "v1", f"{zip_path}/payload.py"]
    assert not list(cache.iterdir())


def test_off_turns_it_off(tmp_path):
    zip_path = make_zip(tmp_path / "a.zip", "v1")
    assert import_from(zip_path, "off") == ["not-installed", "v1", f"{zip_path}/payload.py"]
