"""Keep the module payloads Ansible builds, from one playbook run to the next, for the toolchain's venv.

Before it runs a module, Ansible builds its payload (AnsiballZ: a zip of the module and of every
module_utils file it imports, found by parsing them all). It keeps that payload for the rest of
the run only, in a folder of the run's own, so every playbook run builds each module it uses
again: 0.11 s of CPU for ansible.builtin.ping, 0.23 s for amazon.aws.ec2_vpc_net_info, 0.37 s
for community.docker.docker_container (docs/benchmarks/tests.md).

scripts/setup.sh installs this file into the venv's site-packages with a .pth line, so that
every ansible-playbook of the venv uses it. Each payload Ansible builds is also kept under
~/.cache/fragments-deploy/ansiballz/<ansible version>/, with the path, size and modification
time of every file in it. Before Ansible looks for a payload in its run's folder, the kept one
is put there when every file it holds still resolves to the same path, with the same size and
time (the check Python makes for its own bytecode); otherwise Ansible builds it as it always
does, and that build is kept instead. It does nothing when its directory is not the user's own
and closed to others (the payloads are pickles, which run code when read), when
FRAGMENTS_ANSIBALLZ_CACHE=off, or when Ansible's internals are not the ones it knows.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from fragments_bytecode_cache import chosen_dir, usable, write_whole

PATCHED = "ansible.executor.module_common"


def cache_dir() -> str:
    """Where payloads are kept: FRAGMENTS_ANSIBALLZ_CACHE, else the user's cache; "" when off."""
    return chosen_dir("FRAGMENTS_ANSIBALLZ_CACHE", "ansiballz")


def source_path(member: str) -> str | None:
    """The controller's file a payload member came from; None for the package files Ansible writes itself."""
    parts = member.split("/")
    if parts[0] == "ansible":
        import ansible  # pylint: disable=import-outside-toplevel

        return os.path.join(os.path.dirname(os.path.dirname(ansible.__file__)), *parts)
    if parts[0] == "ansible_collections" and len(parts) > 3:
        # The collection loader answers as Ansible's builder found it: first in the search path.
        spec = importlib.util.find_spec(f"ansible_collections.{parts[1]}.{parts[2]}")
        if spec is None or not spec.submodule_search_locations:
            raise LookupError(member)
        return os.path.join(list(spec.submodule_search_locations)[0], *parts[3:])
    return None


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size


def manifest(zip_data: bytes) -> dict[str, tuple[str, tuple[int, int] | None]]:
    """Each member of a payload (base64 zip): its source file and that file's time and size."""
    import base64  # pylint: disable=import-outside-toplevel
    import io  # pylint: disable=import-outside-toplevel
    import zipfile  # pylint: disable=import-outside-toplevel

    with zipfile.ZipFile(io.BytesIO(base64.b64decode(zip_data))) as payload:
        members = payload.namelist()
    sources = {member: source_path(member) for member in members}
    return {member: (path, _stamp(path)) for member, path in sources.items() if path is not None}


def unchanged(files: dict[str, tuple[str, tuple[int, int] | None]]) -> bool:
    return all(source_path(member) == path and _stamp(path) == stamp for member, (path, stamp) in files.items())


def keep(run_entry: str, store: str) -> None:
    """Copy the payload Ansible just wrote to its run's folder into the store, with its manifest."""
    import pickle  # pylint: disable=import-outside-toplevel

    with open(run_entry, "rb") as built:
        data = built.read()
    files = manifest(pickle.loads(data).zip_data)
    os.makedirs(store, mode=0o700, exist_ok=True)
    write_whole(os.path.join(store, os.path.basename(run_entry)), pickle.dumps((files, data)))


def seed(module_fqn: str, run_cache: str, store: str) -> None:
    """Put into the run's folder the kept payloads of this module whose files are unchanged."""
    import pickle  # pylint: disable=import-outside-toplevel

    try:
        names = [name for name in os.listdir(store) if name.startswith(module_fqn + "-")]
    except FileNotFoundError:
        return
    for name in names:
        target = os.path.join(run_cache, name)
        if os.path.exists(target):
            continue
        with open(os.path.join(store, name), "rb") as kept:
            files, data = pickle.load(kept)
        if unchanged(files):
            os.makedirs(run_cache, exist_ok=True)
            write_whole(target, data)


def patch(module_common, directory: str) -> bool:
    """Wrap the builder's entry point and its cache writer; false when they are not the known ones."""
    cached_module = getattr(module_common, "_CachedModule", None)
    find_module_utils = getattr(module_common, "_find_module_utils", None)
    module_fqn = getattr(module_common, "_get_ansible_module_fqn", None)
    if not (callable(find_module_utils) and callable(module_fqn) and callable(getattr(cached_module, "dump", None))):
        return False
    from ansible import __version__  # pylint: disable=import-outside-toplevel
    from ansible import constants  # pylint: disable=import-outside-toplevel

    store = os.path.join(directory, __version__)
    dump = cached_module.dump

    def dump_and_keep(self, path: str) -> None:
        dump(self, path)
        try:
            keep(path, store)
        except Exception:  # pylint: disable=broad-except  (not kept: the next run builds it)
            pass

    def find_module_utils_seeded(*args, **kwargs):
        try:
            seed(module_fqn(kwargs["module_path"]), os.path.join(constants.DEFAULT_LOCAL_TMP, "ansiballz_cache"), store)
        except Exception:  # pylint: disable=broad-except  (not seeded: Ansible builds it)
            pass
        return find_module_utils(*args, **kwargs)

    cached_module.dump = dump_and_keep
    module_common._find_module_utils = find_module_utils_seeded  # pylint: disable=protected-access
    return True


class _PatchOnImport:
    """Patches Ansible's module builder once it is imported; nothing else is touched. A finder
    of sys.meta_path needs only find_spec: importlib.abc, its base class, would cost every
    Python of the venv (each module run among them) about 25 ms to import."""

    def __init__(self, directory: str):
        self.directory = directory

    def find_spec(self, fullname, path, target=None):  # pylint: disable=unused-argument
        if fullname != PATCHED:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module
        directory = self.directory

        def exec_and_patch(module):
            execute(module)
            try:
                patch(module, directory)
            except Exception:  # pylint: disable=broad-except  (unpatched: Ansible as it comes)
                pass

        spec.loader.exec_module = exec_and_patch
        return spec


def install() -> bool:
    """Patch Ansible's module builder when it is imported; false (and nothing changed) when the cache cannot be used."""
    directory = cache_dir()
    if not directory or not usable(directory) or PATCHED in sys.modules:
        return False
    sys.meta_path.insert(0, _PatchOnImport(directory))
    return True
