# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   create/update .venv, generate synthetic vehicles, train + evaluate the default model
#   make test   create/update .venv and run the whole suite
# .venv receives exactly the versions in $(LOCK) (Python 3.11, Linux x86_64); `make lock` rewrites it.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements-lock.txt
DATA   ?= datasets
DEMO_CONFIG ?= configs/synthetic/dndm.yml
# The versions the toolkit chooses on purpose; everything else in the lock is the newest that
# setup.py's ranges admit on the day `make lock` runs.
LOCK_PINS := torch==2.14.1 torchvision==0.29.1 fastreid==1.4.0
LOCK_VENV := build/lock-venv
EXTRAS := test,deploy,serve
# The search page's browser test drives Debian's chromium (never a downloaded browser build).
CHROMIUM ?= /usr/bin/chromium
# -qq: pip's errors only (a build backend's notices and index warnings are not for a newcomer);
# what was installed is then checked package by package against the lock.
INSTALL = $(1)/bin/python -m pip install -qq --disable-pip-version-check

.PHONY: demo test test-docs venv lock clean-demo gpu-wheels gpu-check test-gpu chromium

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py Makefile $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(call INSTALL,$(VENV)) -c $(LOCK) pip setuptools
	$(call INSTALL,$(VENV)) -c $(LOCK) --no-build-isolation -e ".[$(EXTRAS)]"
	# fastreid's metadata pins torch 1.13.1: install it last and without dependencies (vreid.compat makes it work)
	$(call INSTALL,$(VENV)) -c $(LOCK) --no-deps fastreid
	@$(BIN)/python tools/lock.py check $(LOCK)
	@touch $@

demo: venv
	$(BIN)/python tools/make_synthetic.py --root $(DATA) --preset default
	FASTREID_DATASETS=$(DATA) $(BIN)/python tools/demo.py --config-file $(DEMO_CONFIG)

# The test files run in parallel, a worker per core as memory allows (pytest-xdist; conftest.py),
# each file whole in one worker so its fixtures are built once; `make test TEST_WORKERS=0` runs
# them one after another.
TEST_WORKERS ?= auto
test: venv chromium
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Every command block of the README and docs/, the slow ones too (the demo, benchmarks, grids;
# `make test` runs the others): tests/docs/docs_blocks.py says how a block is marked.
test-docs: venv
	VREID_DOCS=all $(BIN)/python -m pytest -q tests/docs

# Installed where this can (root with apt-get: CI, a fresh machine); elsewhere the browser test
# is skipped with the reason, and the rest of the suite runs.
chromium:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: no $(CHROMIUM) (apt-get install -y chromium as root): the search page's browser test is skipped"

# Run after changing setup.py's ranges or LOCK_PINS, or to take newer releases on purpose;
# then `rm -rf .venv && make test` and commit the new lock.
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(call INSTALL,$(LOCK_VENV)) --upgrade pip setuptools
	$(call INSTALL,$(LOCK_VENV)) --no-build-isolation ".[$(EXTRAS)]" $(filter-out fastreid%,$(LOCK_PINS))
	$(call INSTALL,$(LOCK_VENV)) --no-deps $(filter fastreid%,$(LOCK_PINS))
	$(LOCK_VENV)/bin/python tools/lock.py write $(LOCK)
	rm -rf $(LOCK_VENV)

clean-demo:
	rm -rf output/demo

# A GPU machine here has PyTorch but no network: `make gpu-wheels` (here) puts what it lacks into
# .whl/, which travels with the device tool's carry; `make gpu-check OUT=...` there runs the gpu
# test suite and the GPU benchmark in 9 minutes (tools/gpu_check.py; --smoke dry-runs it on CPU).
OUT ?= output/gpu_check
gpu-wheels: venv
	$(BIN)/python tools/gpu_check.py prepare

gpu-check:
	python3 tools/gpu_check.py run --out $(OUT)

test-gpu: venv
	$(BIN)/python -m pytest -m gpu -rs
