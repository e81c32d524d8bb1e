# Two commands set everything up on a fresh machine that has python3 and make:
#   make run   -> .venv, install, run configs/quick.toml: table, plots and report.md in results/quick/
#   make test  -> .venv with the test extra, run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= configs/quick.toml

.PHONY: run test test-gpu lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,peers]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/convbench run $(CONFIG)
	$(VENV)/bin/convbench report results/$(basename $(notdir $(CONFIG)))

test: $(VENV)/.installed-test
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check .

# On a machine with an NVIDIA GPU: the GPU tests for real (never the simulator), with the cuda extra.
test-gpu: $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e '.[test,peers,cuda]'
	NUMBA_ENABLE_CUDASIM=0 $(PY) -m pytest -q -m gpu

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
