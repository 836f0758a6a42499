#!/usr/bin/env bash
# Every test: lint, unit (service and plugins), Molecule, end to end; lint behind the others.
# `scripts/test.sh STAGE...` runs only the named stages. Run after scripts/setup.sh.
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
export PATH="$root_dir/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root_dir/ansible.cfg"

stage_lint() {
  # ansible-test makes a venv of its own for each sanity test the first time on a machine
  # (downloads and installs, about 100 s): made while the other linters run.
  local primed
  primed=$(mktemp)
  scripts/sanity.sh --prime-venvs >"$primed" 2>&1 &
  local prime_pid=$!
  yamllint --strict .
  ansible-lint
  wait "$prime_pid" || { cat "$primed"; rm -f "$primed"; return 1; }
  rm -f "$primed"
  scripts/sanity.sh
}
stage_unit() {
  # Three parts of 10-35 s of one core each, side by side (each one's output printed whole
  # when all have ended): the service's tests with its coverage, this repository's own (no
  # service code to cover), and the collection's from its built artifact (they run only there).
  local logs failed=0 pids=()
  logs=$(mktemp -d)
  pytest -q -m "not e2e" --cov=fragments --cov-report=term --cov-fail-under=90 service/tests \
    >"$logs/service" 2>&1 & pids+=($!)
  pytest -q -m "not e2e" -p no:cacheprovider tests >"$logs/repository" 2>&1 & pids+=($!)
  collection_units >"$logs/collection" 2>&1 & pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  cat "$logs/service" "$logs/repository" "$logs/collection"
  rm -rf "$logs"
  return "$failed"
}
collection_units() {
  # The collection's own tests, from the built artifact installed outside this repository,
  # under ansible-test units (modules, module_utils and filters imported in-process).
  local work
  work=$(mktemp -d)
  ansible-galaxy collection build collections/ansible_collections/fragments/deploy --output-path "$work" >/dev/null
  # Away from this repository's ansible.cfg, which already finds the collection in place.
  (cd "$work" && env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$work/collections" \
    ansible-galaxy collection install --offline --no-deps -p collections \
    fragments-deploy-*.tar.gz >/dev/null)
  (cd "$work/collections/ansible_collections/fragments/deploy" &&
    ansible-test units --python 3.11 --local --color no | grep -E "passed|failed|error|Unit test")
  rm -rf "$work"
}
cpu_seconds() {
  # `times`'s line "1m2.5s 0m3.1s" (user, system) as whole seconds.
  awk '{ total = 0; for (i = 1; i <= NF; i++) { split($i, t, /[ms]/); total += t[1] * 60 + t[2] } print int(total) }'
}
answer_version_once() {
  # Molecule runs `ansible-playbook --version` before every playbook it runs, only to log it
  # (its _validate_backend; no setting turns it off): about 0.35 s of CPU, some 60 times a
  # stage. An `ansible-playbook` first on PATH in folder $1 answers exactly that from one
  # real run, and hands every other call to the real one.
  local dir=$1 real cat
  real=$(command -v ansible-playbook) cat=$(command -v cat)
  ansible-playbook --version >"$dir/ansible-playbook.version"
  cat >"$dir/ansible-playbook" <<EOF
#!/bin/sh
if [ "\$#" -eq 1 ] && [ "\$1" = --version ]; then exec "$cat" "$dir/ansible-playbook.version"; fi
exec "$real" "\$@"
EOF
  chmod +x "$dir/ansible-playbook"
}
stage_molecule() {
  # The scenarios share nothing (own instances, ports and lab names), so they run side by
  # side; each one's output is printed whole when it ends.
  local scenario name result failed=0 logs
  logs=$(mktemp -d)
  mkdir "$logs/bin" && answer_version_once "$logs/bin"
  local PATH="$logs/bin:$PATH"
  declare -A pids
  for scenario in molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$scenario")")
    { start=$SECONDS rc=0; molecule test -s "$name" || rc=$?
      # `times` of this subshell (its second line: the scenario's processes on the control
      # node), written from here: in a pipe or $(...) it would be a new process's, all zero.
      times >"$logs/$name.times"
      echo "molecule $name: $((SECONDS - start)) s (CPU $(tail -1 "$logs/$name.times" | cpu_seconds) s)"; exit $rc; } \
      >"$logs/$name.log" 2>&1 &
    pids[$name]=$!
  done
  for name in "${!pids[@]}"; do
    if wait "${pids[$name]}"; then result=passed; else result=FAILED; failed=1; fi
    printf '\n--- molecule %s: %s ---\n' "$name" "$result"
    cat "$logs/$name.log"
  done
  rm -rf "$logs"
  return "$failed"
}
stage_e2e() {
  if [[ -n ${E2E_SELECT:-} ]]; then
    # A developer's loop (make e2e K=expr): the matching tests in one worker, on a lab kept
    # up for the next run.
    FRAGMENTS_E2E_KEEP_LAB=1 pytest -q -m e2e -k "$E2E_SELECT" --durations=5 service/tests tests
    return
  fi
  # Each playbook run's test, wall and CPU seconds, for bench/tests.py --plays.
  export FRAGMENTS_TEST_PLAYS=${FRAGMENTS_TEST_PLAYS:-$root_dir/.lab/test-plays.jsonl}
  mkdir -p "$(dirname "$FRAGMENTS_TEST_PLAYS")" && : >"$FRAGMENTS_TEST_PLAYS"
  # Two workers, the machine's cores (three measured slower: 29m55s in all, load 5.5).
  # Each worker takes whole files, so the tests of a file share their fixtures. The first
  # worker takes the files with labs of their own (test_fleet, the longest, and
  # test_provision) and nothing else; the other one every other file, one after another
  # (tests/conftest.py: the two lanes and the seconds that balance them).
  pytest -q -m e2e -n "${E2E_WORKERS:-2}" --dist loadfile --no-loadscope-reorder --durations=0 --durations-min=1 \
    service/tests tests
}

warm_build_cache() {
  # The service image once (its pip install and compile), while the unit stage runs:
  # the builds of it in Molecule and the e2e tests (same steps, other VERSION) then find
  # those steps in the build cache instead of running them side by side.
  DOCKER_BUILDKIT=0 docker build -q -t fragments-cache/service:warm \
    --build-arg BASE_IMAGE=fragments-base/python:bookworm "$root_dir/service"
}

machine_cpu() {
  # The whole machine's busy CPU seconds so far (/proc/stat: all but idle and iowait), for
  # what a stage costs beside its wall time: the suite is bound by CPU, not waits.
  awk '/^cpu / { print int(($2 + $3 + $4 + $7 + $8 + $9) / 100) }' /proc/stat
}

run_stage() {
  local stage=$1 start=$SECONDS cpu
  cpu=$(machine_cpu)
  printf '\n=== %s ===\n' "$stage"
  "stage_$stage"
  printf '=== %s passed in %ds (machine CPU %d s of %d) ===\n' "$stage" $((SECONDS - start)) \
    $(($(machine_cpu) - cpu)) $(((SECONDS - start) * $(nproc)))
}

stages=("$@")
[[ ${#stages[@]} -gt 0 ]] || stages=(lint unit molecule e2e)
warm_pid=""
if [[ " ${stages[*]} " == *" molecule "* || " ${stages[*]} " == *" e2e "* ]]; then
  warm_log=$(mktemp)
  warm_build_cache >"$warm_log" 2>&1 &
  warm_pid=$!
fi
lint_pid=""
if [[ " ${stages[*]} " == *" lint "* && ${#stages[@]} -gt 1 ]]; then
  # Lint needs nothing the other stages make, and nothing of theirs needs it: it runs behind
  # them at the lowest priority (nice 19), on the time their cores would idle (the unit
  # stage's last seconds, Molecule's tail, the e2e tests' waits), instead of a stage of its
  # own. Its output is printed whole between two stages once it has ended; a failure stops
  # the run there.
  lint_log=$(mktemp)
  # A process group of its own (job control on for this one start), to be stopped whole if
  # the run fails; not a session of its own: where the kernel shares the CPU between
  # sessions first (autogroup), niceness counts only inside a session.
  set -m
  nice -n 19 "$root_dir/scripts/test.sh" lint >"$lint_log" 2>&1 &
  lint_pid=$!
  set +m
  trap 'kill -- -"$lint_pid" 2>/dev/null || true' EXIT
  read -r -a stages <<<"$(printf '%s ' "${stages[@]}" | sed -e 's/\blint\b//')"
fi
lint_report() {
  # With `wait`, until lint ends; otherwise only if it has.
  [[ -n $lint_pid ]] || return 0
  [[ ${1:-} == wait ]] || ! kill -0 "$lint_pid" 2>/dev/null || return 0
  local rc=0
  wait "$lint_pid" || rc=$?
  # What a failed lint left running in its group (the sanity venvs' priming).
  kill -- -"$lint_pid" 2>/dev/null || true
  cat "$lint_log"
  rm -f "$lint_log"
  lint_pid=""
  return "$rc"
}
for stage in "${stages[@]}"; do
  if [[ -n $warm_pid && ($stage == molecule || $stage == e2e) ]]; then
    wait "$warm_pid" || { echo "warming the build cache failed (the builds will do it):"; cat "$warm_log"; }
    warm_pid=""
  fi
  run_stage "$stage"
  lint_report
done
lint_report wait
