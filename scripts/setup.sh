#!/usr/bin/env bash
# Prepare this machine for the lab and the tests: system packages, a Docker daemon
# that answers, the pinned Python toolchain in .venv, the collections and the local
# base images. Idempotent: each step checks before it acts, so a second run is quick.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
state_dir="${FRAGMENTS_STATE_DIR:-$root_dir/.lab}"
venv="$root_dir/.venv"
mkdir -p "$state_dir"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Commands the lab needs, each with the Debian package that provides it.
declare -A package_for=(
  [dockerd]=docker.io
  [debootstrap]=debootstrap
  [ssh]=openssh-client
  [git]=git
  [curl]=curl
)

install_system_packages() {
  local missing=() cmd
  for cmd in "${!package_for[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${package_for[$cmd]}")
  done
  # The Docker daemon may live elsewhere (Docker Desktop, a remote DOCKER_HOST).
  if [[ " ${missing[*]} " == *" docker.io "* ]] && docker info >/dev/null 2>&1; then
    missing=("${missing[@]/docker.io/}")
  fi
  read -r -a missing <<<"${missing[*]}"
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "missing packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_docker_daemon() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    die "no Docker daemon answers and you are not root. Start Docker (e.g. 'sudo systemctl start docker') and make sure your user may use it ('sudo usermod -aG docker $(id -un)', then log in again)."
  fi
  say "starting dockerd (log: $state_dir/dockerd.log)"
  # No systemd as PID 1 on the build machines: run the daemon in the background.
  setsid dockerd >"$state_dir/dockerd.log" 2>&1 </dev/null &
  local _
  for _ in $(seq 120); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  tail -n 20 "$state_dir/dockerd.log" >&2 || true
  die "dockerd did not answer within 60 s; see $state_dir/dockerd.log"
}

venv_python() {
  # FRAGMENTS_PYTHON if set; else the distribution's Python where it is 3.11 or newer and
  # makes venvs: Debian's is built with profile-guided optimisation, pyenv's default build
  # is not (Molecule ec2_hosts, twice each: 59.6 and 59.4 s of CPU -> 52.5 and 55.6 s).
  local candidate
  for candidate in ${FRAGMENTS_PYTHON:-} /usr/bin/python3 python3; do
    if "$candidate" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  die "no Python 3.11 or newer that can make a venv: install python3 and python3-venv (Debian), or set FRAGMENTS_PYTHON"
}

install_venv() {
  # One toolchain per set of pins, kept outside the clone and keyed by the pins' hash, so
  # that every clone on this machine (CI's fresh ones too) links the same one instead of
  # installing 850 MB again. .venv in the clone is a link to it.
  local python want cache_root cache
  python=$(venv_python)
  want=$(cat "$root_dir/requirements.txt" "$root_dir/service/requirements.txt" \
    <(echo "$python"; "$python" --version) | sha256sum | cut -c1-16)
  cache_root="${FRAGMENTS_VENV_CACHE:-${XDG_CACHE_HOME:-${HOME:-$state_dir}/.cache}/fragments-deploy}"
  cache="$cache_root/venv-$want"
  if [[ ! -f $cache/.complete ]]; then
    say "installing the Python toolchain into $cache"
    rm -rf "$cache"
    mkdir -p "$cache_root"
    "$python" -m venv "$cache"
    "$cache/bin/pip" install -q --disable-pip-version-check -r "$root_dir/requirements.txt" 2> >(grep -v '^WARNING: Location' >&2)
    touch "$cache/.complete"
  fi
  touch "$cache"
  install_caches "$cache"
  if [[ $(readlink "$venv" 2>/dev/null) != "$cache" ]]; then
    rm -rf "$venv"
    ln -s "$cache" "$venv"
  fi
  # Toolchains of pins nobody has used for two weeks.
  find "$cache_root" -mindepth 1 -maxdepth 1 -name 'venv-*' ! -path "$cache" -mtime +14 -exec rm -rf {} + 2>/dev/null || true
}

install_caches() {
  # Ansible's module runs on the control node import from zips, which Python compiles on
  # every run: scripts/fragments_bytecode_cache.py keeps the bytecode. Every playbook run
  # builds each module's payload again: scripts/fragments_ansiballz_cache.py keeps those.
  # Their docstrings say how.
  local site cache cached
  site=$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  for cache in fragments_bytecode_cache fragments_ansiballz_cache; do
    cmp -s "$root_dir/scripts/$cache.py" "$site/$cache.py" || install -m 0644 "$root_dir/scripts/$cache.py" "$site/$cache.py"
    # Its own bytecode even where PYTHONDONTWRITEBYTECODE is set: every Python of the venv loads it.
    "$1/bin/python" -c 'import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True)' "$site/$cache.py"
    echo "import $cache; $cache.install()" >"$site/$cache.pth"
    # Entries no run has read for a month (relatime notes a read once a day), in the
    # directory the cache itself uses.
    cached=$("$1/bin/python" -c "import $cache; print($cache.cache_dir())")
    [[ -z $cached ]] || find "$cached" -type f -atime +30 -delete 2>/dev/null || true
  done
}

install_collections() {
  # Offline this reports "Nothing to do": the pinned ansible package meets every range.
  (cd "$root_dir" && "$venv/bin/ansible-galaxy" collection install -r requirements.yml) | sed 's/^/[setup] /'
}

export_build_ca() {
  # Extra CA certificates this machine trusts (a TLS-inspecting proxy, a corporate
  # CA) are handed to the first stage of image builds so pip can verify PyPI. The
  # final stages never copy them.
  local dest="$root_dir/service/build-ca"
  mkdir -p "$dest"
  find "$dest" -name '*.crt' -delete
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$dest/"
  fi
}

install_system_packages
start_docker_daemon
# The base images need only the daemon, the toolchain only the package index: on a new
# machine both download and unpack for a minute or more, so they run at once (each one's
# lines carry its own prefix).
"$root_dir/scripts/base-images.sh" &
base_images=$!
trap 'kill "$base_images" 2>/dev/null || true' EXIT  # when a step below fails
install_venv
install_collections
export_build_ca
wait "$base_images" || die "the base images were not made (their error is above)"
trap - EXIT
say "ready"
