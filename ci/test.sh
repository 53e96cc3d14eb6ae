#!/usr/bin/env bash
# The project's test command (README, .ci/run and the GitHub workflow call it).
#
#   1. installs what the harness needs on a fresh machine (iptables, and
#      chromium for the report.html browser test),
#   2. checks formatting and lints,
#   3. runs every unit, integration and end-to-end test (real TCP, real Docker),
#   4. runs the CI scenario suite against real containers.
#
# Environment: SUITE=0 skips step 4 (quick local loop); SUITE_FILTER=name
# narrows it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
start=$(date +%s)

log "prerequisites"
if ! command -v iptables >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq iptables util-linux >/dev/null
fi
# The report.html browser test drives Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
command -v docker >/dev/null 2>&1 || { echo "docker CLI missing: the suite needs a Docker engine" >&2; exit 3; }
# The engine is normally started before a session; if it is not running (a
# fresh VM, or a daemon that ended with the session that started it), start it
# ourselves rather than fail: the suite cannot run without it.
#
# A daemon that was SIGKILLed leaves /var/run/docker.pid behind, and dockerd
# refuses to start while that pid names any live process (a reused pid, or
# the killed daemon not yet reaped). The file is stale unless it names a
# running, non-zombie dockerd.
start_dockerd() {
  local pidfile=/var/run/docker.pid old state
  if [ -f "$pidfile" ]; then
    old=$(tr -dc 0-9 <"$pidfile")
    state=$(awk '{print $3}' "/proc/${old:-0}/stat" 2>/dev/null || true)
    if [ "$(cat "/proc/${old:-0}/comm" 2>/dev/null)" != dockerd ] || [ "$state" = Z ]; then
      echo "removing stale $pidfile (pid ${old:-none} is not a running dockerd)"
      rm -f "$pidfile"
    fi
  fi
  echo "no Docker engine reachable: starting dockerd (log: /tmp/timenet-dockerd.log)"
  nohup dockerd >>/tmp/timenet-dockerd.log 2>&1 &
  local pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -3 /tmp/timenet-dockerd.log >&2; return 1; }
    sleep 1
  done
  return 1
}
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1; then
    # Twice: a daemon killed a moment ago may still hold its sockets.
    start_dockerd || { sleep 3; start_dockerd; } || true
  fi
fi
docker info >/dev/null 2>&1 || { echo "no Docker engine reachable: the suite needs one (see /tmp/timenet-dockerd.log)" >&2; exit 3; }
echo "docker engine $(docker version --format '{{.Server.Version}}')"

log "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

# One build for everything below: the test build also builds both binaries
# (the integration tests run them), with the dev-dependencies' features. A
# separate `cargo build --bins` resolves features without them and so built
# a second copy of the shared crates (~1.5 min on this machine).
log "build"
cargo test --workspace --no-run
mkdir -p runs

log "tests"
cargo test --workspace -- --test-threads=2

# scenarios/regressions/ holds what `harness shrink` wrote: each a
# once-failing schedule, now part of the normal suite.
regressions=""
if ls scenarios/regressions/*.toml >/dev/null 2>&1; then regressions=scenarios/regressions/; fi

# Every scenario file in the simulation too (under a minute in all): the
# same files, checks and exit codes as on docker, so a change that breaks a
# scenario only in sim (a TICK change once starved slow-node's throttled
# restart there) is red here, not found a session later.
log "scenario suite in sim"
./target/x86_64-unknown-linux-gnu/debug/harness run --provider sim scenarios/ scenarios/sim/ \
  $regressions --out runs/ci-sim

if [ "${SUITE:-1}" != "0" ]; then
  # Many seeds of the random nemesis in sim (one process per seed, 2 jobs);
  # any red seed fails CI and explore.json / junit.xml name its replay
  # command. 24 seeds of churn take about 1.5 CPU-s each. They run beside
  # the docker suite at the lowest priority: the suite's nodes leave most
  # of the CPU idle, and at nice 19 the seeds take only what they leave.
  log "explore: churn in sim (beside the docker suite, nice 19)"
  nice -n 19 ./target/x86_64-unknown-linux-gnu/debug/harness explore scenarios/churn.toml \
    --provider sim --seeds "${EXPLORE_SEEDS:-24}" --jobs 2 --quiet --out runs/ci-explore \
    > runs/ci-explore.log 2>&1 &
  explore_pid=$!

  # Two scenarios at a time, longest first: a docker run keeps about a
  # sixth of this machine busy (README "Measured"), so two halve the
  # suite's wall time.
  log "CI scenario suite (docker, 2 at a time)"
  suite_rc=0
  ./target/x86_64-unknown-linux-gnu/debug/harness run scenarios/ $regressions --jobs 2 \
    ${SUITE_FILTER:+--filter "$SUITE_FILTER"} --out runs/ci-suite || suite_rc=$?

  explore_rc=0
  wait "$explore_pid" || explore_rc=$?
  log "explore: churn in sim (exit $explore_rc)"
  cat runs/ci-explore.log
  if [ "$suite_rc" != 0 ]; then
    # Again at the very end: a log kept only by its tail still names the
    # red runs and their first violations.
    cat runs/ci-suite/summary.txt 2>/dev/null || true
    echo "CI scenario suite failed (exit $suite_rc)" >&2
    exit "$suite_rc"
  fi
  [ "$explore_rc" = 0 ] || { echo "explore found a failing seed (exit $explore_rc)" >&2; exit "$explore_rc"; }
fi

log "done in $(( $(date +%s) - start ))s"
