"""Gather what the service needs at run time into one folder, for a FROM scratch stage.

Runs in the build stage with the base image's own Python: copies that interpreter,
its standard library (less what a server never imports), the given trees, and every
shared library those ELF files load (as `ldd` reports it). Works for Debian's Python
(/usr/bin, /usr/lib/python3.X) and the official images' (/usr/local).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

# Never imported by a web service, and large: tests, GUIs, packaging tools, static libraries.
STDLIB_SKIP = {
    "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "distutils",
    "venv", "unittest", "turtle.py", "site-packages", "dist-packages",
}
# C extensions of the standard library that a server does not load, with their libraries.
DYNLOAD_SKIP = ("_dbm", "_gdbm", "readline", "_curses", "_curses_panel", "_tkinter", "nis", "_test", "xxlimited")
LDD_PATH = re.compile(r"(/\S+) \(0x[0-9a-f]+\)")


def copy_file(source: Path, root: Path) -> None:
    target = root / source.relative_to("/")
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.resolve(), target)


def copy_tree(source: Path, root: Path, skip: set[str] = frozenset()) -> None:
    def ignore(folder: str, names: list[str]) -> list[str]:
        top = Path(folder) == source
        dynload = Path(folder).name == "lib-dynload"
        return [
            n for n in names
            if (top and (n in skip or n.startswith("config-")))
            or (dynload and n.startswith(DYNLOAD_SKIP))
            or not os.path.exists(Path(folder, n))  # dangling links such as Debian's sitecustomize.py
        ]

    shutil.copytree(source, root / source.relative_to("/"), symlinks=False, ignore=ignore, dirs_exist_ok=True)


def elf_files(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def shared_libraries(files: list[Path]) -> set[Path]:
    libraries: set[Path] = set()
    for path in files:
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        libraries.update(Path(match) for match in LDD_PATH.findall(result.stdout))
    return libraries


def main(root: str, *trees: str) -> None:
    out = Path(root)
    executable = Path(sys.executable).resolve()
    copy_file(executable, out)
    python3 = out / "usr/bin/python3"
    if not python3.exists():
        python3.parent.mkdir(parents=True, exist_ok=True)
        python3.symlink_to(Path("/") / executable.relative_to("/"))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    copy_tree(stdlib, out, STDLIB_SKIP)
    for tree in trees:
        copy_tree(Path(tree), out)
    for library in shared_libraries(elf_files(out)):
        # Libraries found through $ORIGIN (Pillow's bundled ones) are already in place.
        if not library.is_relative_to(out):
            copy_file(library, out)
    for folder in ("tmp", "etc"):
        (out / folder).mkdir(mode=0o1777 if folder == "tmp" else 0o755, exist_ok=True)
    (out / "tmp").chmod(0o1777)
    (out / "etc/passwd").write_text("root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001:app:/nonexistent:/sbin/nologin\n")
    (out / "etc/group").write_text("root:x:0:\napp:x:10001:\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
