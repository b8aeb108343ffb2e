# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv and install vkstream into it when missing; re-running them installs nothing new.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: synthetic KITTI replays -> Ray pipeline with the shipped model -> ZeroMQ -> annotated video,
# latency percentiles and online STQ/DSTQ (vkstream demo --help).
demo: $(STAMP)
	$(BIN)/vkstream demo

lint: $(STAMP)
	$(BIN)/ruff check vkstream tests benchmarks
	$(BIN)/ruff format --check vkstream tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix vkstream tests benchmarks
	$(BIN)/ruff format vkstream tests benchmarks

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
