# One command each: `make run` (bot on embedded SQLite), `make test` (lint, types, all tests),
# `make demo` (the real bot against the test Bot API server, printing a chat transcript).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

LOWEST ?= .venv-lowest
UV = $(BIN)/uv

.PHONY: install run test lint typecheck pytest pytest-lowest demo bench bench-scale bench-tick clean

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

# The lowest versions pyproject.toml allows, installed by uv into a second venv: the declared
# ranges are only true if the suite passes at their bottom too.
$(LOWEST)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12): pyproject.toml | install
	@test -x $(UV) || $(BIN)/python -m pip install --disable-pip-version-check -q 'uv>=0.5'
	@test -x $(LOWEST)/bin/python || $(UV) venv -q --python $(BIN)/python $(LOWEST)
	VIRTUAL_ENV=$(LOWEST) $(UV) pip install -q --resolution lowest-direct -e '.[dev]'
	@rm -f $(LOWEST)/.installed-*
	@touch $@

pytest-lowest: $(LOWEST)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
	$(LOWEST)/bin/python -m pytest -q -ra -p no:cacheprovider

test: lint typecheck pytest pytest-lowest

demo: install
	$(BIN)/python -m tests.demo
	$(BIN)/python -m tests.demo_dingtalk

bench: install
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/broadcast.py

# A city's worth of data (issue 12): 10k and 1M opinions on SQLite and PostgreSQL, about an hour.
bench-scale: install
	$(BIN)/python bench/scale.py

# The clock at 10k and 1M opinions on SQLite and PostgreSQL (issue 12); not part of `make test`.
bench-tick: install
	$(BIN)/python bench/tick.py

clean:
	rm -rf $(VENV) $(LOWEST) .mypy_cache .ruff_cache .pytest_cache
