#!/usr/bin/env bash
# `make lock`: refresh the lock files from pyproject.toml. Every install (make run, make test,
# CI) reads only these files, with hashes, so two installs a week apart get the same versions.
#   requirements/test.txt    runtime + test dependencies + the CPU build of torch
#   requirements/run.txt     the runtime subset, at exactly the versions of test.txt
#   requirements/nodeps.txt  wheels installed with --no-deps (their declared dependencies,
#                            torchvision and tensorflow, are not wanted: see the Makefile)
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"
command -v "$UV" >/dev/null || UV=uv
common=(--generate-hashes --python-version 3.11 --find-links /opt/wheels --no-header)
"$UV" pip compile pyproject.toml requirements/pins.in --extra test "${common[@]}" \
  --no-emit-package photo-archive -o requirements/test.txt
"$UV" pip compile pyproject.toml requirements/pins.in -c requirements/test.txt "${common[@]}" \
  --no-emit-package photo-archive -o requirements/run.txt
"$UV" pip compile requirements/nodeps.in --no-deps "${common[@]}" -o requirements/nodeps.txt
