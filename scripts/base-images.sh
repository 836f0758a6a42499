#!/usr/bin/env bash
# Local base images for builds and lab hosts. Where the daemon can pull the official
# images it uses them; otherwise (no Docker Hub) it bootstraps Debian bookworm with
# debootstrap. Images that already exist are kept: their IDs change on every rebuild,
# which would invalidate every build cache above them.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
state_dir="${FRAGMENTS_STATE_DIR:-$root_dir/.lab}"
# These names are the contract with the rest of the project (inventory/, molecule/).
base_debian=fragments-base/debian:bookworm
base_python=fragments-base/python:bookworm
base_labhost=fragments-base/labhost:bookworm
base_labhost_docker=fragments-base/labhost-docker:bookworm

say() { printf '[base-images] %s\n' "$*"; }
die() { printf '[base-images] ERROR: %s\n' "$*" >&2; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# A built base is current when its label holds the hash of the Dockerfile it came from.
dockerfile_hash() { sha256sum "$1/Dockerfile" | cut -c1-16; }
is_current() {
  [[ $(docker image inspect --format '{{ index .Config.Labels "fragments.base.dockerfile" }}' "$1" 2>/dev/null) == "$2" ]]
}
try_pull() { timeout 60 docker pull -q "$1" >/dev/null 2>&1; }
build() {
  # The classic builder: BuildKit needs the buildx plugin, which Debian 12 lacks.
  { DOCKER_BUILDKIT=0 docker build -q "$@" >/dev/null; } 2>&1 |
    { grep -v -e DEPRECATED -e 'BuildKit is currently' -e 'environment-variable' -e '^ *$' >&2 || true; }
}

debian_mirror() {
  # The mirror this machine's apt uses for bookworm, so builds use what works here.
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local file uri
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f $file ]] || continue
    uri=$(awk 'BEGIN{RS=""} /(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ {
            if (match($0, /URIs: *[^ \n]+/)) { u=substr($0, RSTART, RLENGTH); sub(/URIs: */, "", u); print u; exit } }' "$file")
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $uri ]] && { echo "$uri"; return; }
  die "cannot find a Debian bookworm mirror in /etc/apt; set DEBIAN_MIRROR"
}

bootstrap_debian() {
  local rootfs="$state_dir/rootfs-bookworm" mirror
  mirror=$(debian_mirror)
  say "bootstrapping Debian bookworm (minbase) into $rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state_dir/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $state_dir/debootstrap.log"
  # Slim it the way the official -slim images are: no docs, man pages, locales or
  # apt caches, now and for every later apt-get install.
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/info/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/{man,locale,info}/* "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$base_debian" >/dev/null
  rm -rf "$rootfs"
}

if ! have_image "$base_debian"; then
  if try_pull debian:bookworm-slim; then
    docker tag debian:bookworm-slim "$base_debian"
  else
    bootstrap_debian
  fi
  say "made $base_debian"
fi

if ! have_image "$base_python"; then
  if try_pull python:3.11-slim-bookworm; then
    docker tag python:3.11-slim-bookworm "$base_python"
  else
    build -t "$base_python" --label "fragments.base.dockerfile=$(dockerfile_hash "$root_dir/images/python")" \
      --build-arg "BASE_IMAGE=$base_debian" "$root_dir/images/python"
  fi
  say "made $base_python"
fi

# The lab host also takes the toolchain's bytecode cache (scripts/fragments_bytecode_cache.py):
# its label holds both files' hashes, and it is built from a folder holding both.
labhost_hash="$(dockerfile_hash "$root_dir/images/labhost")-$(sha256sum "$root_dir/scripts/fragments_bytecode_cache.py" | cut -c1-16)"
if ! is_current "$base_labhost" "$labhost_hash"; then
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT  # also when the build fails (set -e ends the script there)
  cp "$root_dir/images/labhost/Dockerfile" "$root_dir/scripts/fragments_bytecode_cache.py" "$context/"
  build -t "$base_labhost" --label "fragments.base.dockerfile=$labhost_hash" \
    --build-arg "BASE_IMAGE=$base_debian" "$context"
  rm -rf "$context"
  trap - EXIT
  say "made $base_labhost"
fi

# Rebuilt whenever the lab host under it is: its label holds both Dockerfiles' hashes.
labhost_docker_hash="$labhost_hash-$(dockerfile_hash "$root_dir/images/labhost-docker")"
if ! is_current "$base_labhost_docker" "$labhost_docker_hash"; then
  build -t "$base_labhost_docker" --label "fragments.base.dockerfile=$labhost_docker_hash" \
    --build-arg "BASE_IMAGE=$base_labhost" "$root_dir/images/labhost-docker"
  say "made $base_labhost_docker"
fi
