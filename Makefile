# One command each: `make run` (bot on embedded SQLite), `make test` (lint, types, all tests),
# `make demo` (the real bot against the test Bot API server, printing a chat transcript).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install run test lint typecheck pytest demo bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
	$(BIN)/liaison-bot run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest -q -ra

test: lint typecheck pytest

demo: install
	$(BIN)/python -m tests.demo

bench: install
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/broadcast.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
