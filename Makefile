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

CHECKPOINT := checkpoints/synth_small.pt

# Render two unseen synthetic sequences, run the shipped model over them online, score and preview.
demo: $(STAMP)
	$(BIN)/vkstream synth data/demo --layout semkitti-dvps --sequences 2 --frames 20 --size 621x188 --seed 7 --preview data/demo/preview.png
	$(BIN)/vkstream scan data/demo
	$(BIN)/vkstream predict --checkpoint $(CHECKPOINT) --data data/demo --out data/demo-pred
	$(BIN)/vkstream eval --gt data/demo --pred data/demo-pred --json data/demo-pred/scores.json
	$(BIN)/vkstream preview data/demo-pred --out data/demo-pred/preview.png

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
