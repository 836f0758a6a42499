#!/usr/bin/env bash
# ansible-test sanity for the collection, as a maintainer would run it, with two things our
# machines need: the collection copied beside the collections it uses (from the installed
# ansible package) in a temporary ansible_collections tree, since ansible-test only sees
# collections in the same tree; and a stand-in for ansible-test's pip bootstrap script,
# which it would download from a host these machines cannot reach: ensurepip, then pip
# with the machine's CA bundle (ansible-test clears the PIP_* variables).
#   scripts/sanity.sh [more ansible-test sanity options]
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
python="$root_dir/.venv/bin/python"
collection="$root_dir/collections/ansible_collections/fragments/deploy"
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# The bootstrap script ansible-test looks for in its cache, for the pip version it pins.
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',$/\1/p" "$site/ansible_test/_internal/python_requirements.py")
stand_in="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$stand_in")"
cat >"$stand_in" <<'PY'
# Written by scripts/sanity.sh: ansible-test's pip bootstrap, without its download.
import os, subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
ca = "/etc/ssl/certs/ca-certificates.crt"
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
                         + (["--cert", ca] if os.path.exists(ca) else []) + args))
PY

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/ansible_collections"
mkdir -p "$tree/fragments" "$tree/community"
cp -r "$collection" "$tree/fragments/deploy"
rm -rf "$tree/fragments/deploy/tests/output"
find "$tree/fragments/deploy" -name __pycache__ -prune -exec rm -rf {} +
# The collections our plugins and roles use, as galaxy.yml lists them.
cp -r "$site/ansible_collections/amazon" "$tree/"
for name in docker general crypto aws; do
  cp -r "$site/ansible_collections/community/$name" "$tree/community/"
done
cd "$tree/fragments/deploy"
# ansible-test reads what belongs to the collection from git when there is a repository.
git init -q . && git add -A
"$root_dir/.venv/bin/ansible-test" sanity --python "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --local --color no "$@"
