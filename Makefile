# `make run` and `make test` work from a fresh clone with only Python 3.11+ and make.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint format setup bench clean browser

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

setup: .venv/.synced

run: setup
	.venv/bin/python -m supervisor

# Debian's chromium for tests/browser when missing and installable; never fails the build
# (else one line says why, and those tests skip with the same reason).
browser:
	@bash tests/browser/install_chromium.sh

test: setup browser
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: setup
	.venv/bin/python bench/api_crud.py

clean:
	rm -rf .venv .uv var
