# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   create/update .venv, generate synthetic vehicles, train + evaluate the default model
#   make test   install the test extras and run the whole suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.14.1 torchvision==0.29.1
DATA   ?= datasets
DEMO_CONFIG ?= configs/synthetic/dndm.yml

.PHONY: demo test venv clean-demo

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	# fastreid's metadata pins torch 1.13.1: install it without dependencies (vreid.compat makes it work)
	$(BIN)/python -m pip install -q --no-deps fastreid==1.4.0
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e ".[test,deploy]"
	touch $@

demo: venv
	$(BIN)/python tools/make_synthetic.py --root $(DATA) --preset default
	FASTREID_DATASETS=$(DATA) $(BIN)/python tools/demo.py --config-file $(DEMO_CONFIG)

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q tests

clean-demo:
	rm -rf output/demo
