# Two commands: `make run` (set up and serve) and `make test` (set up and run every test).
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export FLASK_APP := wsgi
# Every package with its exact version and hashes, for Python 3.11 on Linux: the app's and the
# dev extras'. Made from pyproject.toml by `make lock`.
LOCK := requirements/dev.txt

.PHONY: install lock audit browser run test test-fast lint format bench screenshots clean

# The packages come from the lock only; the project itself is installed on top, in place.
# `pip check` fails when pyproject.toml asks for something the lock lacks: run `make lock`.
$(BIN)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e . --config-settings editable_mode=compat
	$(BIN)/pip check || { echo "$(LOCK) does not match pyproject.toml: run make lock" >&2; exit 1; }
	touch $@

install: $(BIN)/.installed
	$(BIN)/pybabel -q compile -d translations

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed --demo
	@echo "Serving on http://$${HOST:-127.0.0.1}:$${PORT:-5000}  (visitor chat: /chat/helpwanted, staff inbox: /inbox)"
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The browser tests drive Debian's Chromium; installed here when missing (needs root/apt).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && apt-get install -y -q chromium chromium-driver; } || \
	  { echo "Install chromium and chromium-driver for the browser tests" >&2; exit 1; }

# The suite runs every database test on SQLite and on PostgreSQL; it needs the local
# PostgreSQL (database `test`) and Redis, and fails when they are unreachable.
test: install browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The suite without the tests marked slow (those that start server processes or Chromium), on
# SQLite and PostgreSQL; an unmarked test that starts either fails here.
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HELPLINE_FAST_TESTS=1 $(BIN)/pytest -m "not slow"

# Resolve pyproject.toml (dependencies and dev extras) into the lock again, keeping the versions
# already locked where they still fit; LOCK_FLAGS=--upgrade takes the newest allowed instead.
lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q 'uv>=0.9'
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes $(LOCK_FLAGS) \
	  --python-version 3.11 --python-platform linux --custom-compile-command "make lock" \
	  --quiet -o $(LOCK)

# Known vulnerabilities of the locked versions (needs the vulnerability service: PyPI's API).
audit: install
	$(BIN)/python requirements/audit.py $(LOCK)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/chat_roundtrip.py

# The README's pictures of the staff side: docs/screenshots/*.png, from a demo server in Chromium.
screenshots: install browser
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache
