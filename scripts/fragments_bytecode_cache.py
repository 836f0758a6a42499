"""Keep the bytecode of Python modules imported from zip files, for the toolchain's venv.

Ansible runs every module as a zip of its code and the module_utils it imports (AnsiballZ).
Python compiles what it imports from a zip on every import, never writing bytecode, so each
module run on the control node compiled ansible.module_utils.basic and the rest again: about
55 ms of CPU of a `stat` and 85 ms of an amazon.aws module (docs/benchmarks/tests.md).

scripts/setup.sh installs this file into the venv's site-packages with a .pth line that
imports it, so every Python of the venv (Ansible's local module runs included) uses it. It
keeps compiled code under ~/.cache/fragments-deploy/bytecode, keyed by the source's SHA-256,
Python's bytecode magic and the optimisation level, and names the importing file in the
code it hands back, so tracebacks point where they always did. It does nothing when the
directory is not the user's own and closed to others (marshal data is code), or when
FRAGMENTS_BYTECODE_CACHE=off. Hosts' own Pythons are not touched.
"""

from __future__ import annotations

import os
import stat
import sys
import types
import zipimport

_compile_without_cache = zipimport._compile_source  # pylint: disable=protected-access


def chosen_dir(variable: str, leaf: str) -> str:
    """A toolchain cache's directory: the environment's `variable`, else `leaf` in the user's cache; "" when off."""
    chosen = os.environ.get(variable, "")
    if chosen == "off":
        return ""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return chosen or os.path.join(base, "fragments-deploy", leaf)


def cache_dir() -> str:
    """Where compiled code is kept: FRAGMENTS_BYTECODE_CACHE, else the user's cache; "" when off."""
    return chosen_dir("FRAGMENTS_BYTECODE_CACHE", "bytecode")


def usable(path: str) -> bool:
    """Create the directory (0700) if need be; true when it is ours and closed to others."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def _named(code: types.CodeType, filename: str) -> types.CodeType:
    consts = tuple(_named(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def compile_cached(directory: str):
    """A replacement for zipimport's compile step that reads and writes `directory`."""
    import hashlib  # pylint: disable=import-outside-toplevel  (only once a zip is imported from)
    import importlib.util  # pylint: disable=import-outside-toplevel
    import marshal  # pylint: disable=import-outside-toplevel

    tag = importlib.util.MAGIC_NUMBER + str(sys.flags.optimize).encode()

    def compile_source(pathname: str, source: bytes) -> types.CodeType:
        entry = os.path.join(directory, hashlib.sha256(tag + source).hexdigest())
        try:
            with open(entry, "rb") as cached:
                return _named(marshal.loads(cached.read()), pathname)
        except Exception:  # pylint: disable=broad-except  (absent or unreadable: compile it)
            pass
        code = _compile_without_cache(pathname, source)
        write_whole(entry, marshal.dumps(code))
        return code

    return compile_source


def write_whole(path: str, data: bytes) -> None:
    """Write a cache entry whole or not at all, whoever else writes it; a failure leaves no partial file."""
    partial = f"{path}.{os.getpid()}"
    try:
        with open(partial, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except OSError:
        try:
            os.unlink(partial)  # a full disk leaves no half-written file behind
        except OSError:
            pass


def install() -> bool:
    """Put the cache in zipimport's way; false (and nothing changed) when it cannot be used."""
    directory = cache_dir()
    if not directory or not hasattr(zipimport, "_compile_source") or not usable(directory):
        return False
    zipimport._compile_source = compile_cached(directory)  # pylint: disable=protected-access
    return True
