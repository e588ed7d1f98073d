# Two commands: `make run` (set up and serve) and `make test` (set up and run every test).
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export FLASK_APP := wsgi

.PHONY: install browser run test lint format bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' --config-settings editable_mode=compat
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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/chat_roundtrip.py

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache
