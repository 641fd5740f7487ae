# Two commands on a fresh machine: `make run` (set up, replay seeds/ into ./data on SQLite)
# and `make test` (set up, lint, type-check, build the docs, run the tests). .ci/run calls `make test`;
# `make test-fast` runs the tests not marked slow, for a quick answer while working.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test test-fast lint docs bench pywb browser

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# pip 23.x cannot resolve lxml[html-clean]; upgrade it inside the venv first.
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# pywb (the replay tests' server) pins redis==2.10.6, which cannot live beside our redis>=5: it gets
# a virtual environment of its own, built once from the registry; the tests run its `wayback` on 127.0.0.1.
PYWB_VENV := .venv-pywb
PYWB_STAMP := $(PYWB_VENV)/.installed-stamp

$(PYWB_STAMP):
	python3 -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYWB_VENV)/bin/python -m pip install --quiet pywb==2.10.0
	touch $(PYWB_STAMP)

pywb: $(PYWB_STAMP)

# The browser tests of `scraper serve` drive Debian's Chromium and its driver, never a downloaded one:
# installed from the distribution when missing (as root, as CI runs); otherwise those tests skip, saying so.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
		else \
			echo "chromium and chromium-driver are missing: sudo apt-get install chromium chromium-driver"; \
		fi; \
	fi

run: setup
	$(BIN)/scraper replay seeds

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# One pytest process keeps one core busy; two share the tests by module (a module's fixtures are
# made once) and use both. The test that restarts PostgreSQL runs after them, alone. The slowest
# tests are listed at the end, so a run that nears the 20-minute limit says where the time went.
PYTEST_PARALLEL := -n 2 --dist loadscope --durations=20

# The documentation site, strict: a broken link, anchor or a parser the reference cannot read fails it.
docs: setup
	$(BIN)/mkdocs build --strict --quiet

test: lint docs pywb browser
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not alone"
	$(BIN)/pytest -m alone

# Every test but those marked slow (spawned crawls and workers, kills, the corpus-wide gate): minutes, not tens.
test-fast: setup pywb
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow"

# The benchmark suite (offline; needs ../shared/eval beside the project): results in benchmarks/results.
bench: setup
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.startup
	$(BIN)/python -m benchmarks.serve --db sqlite --name serve-sqlite
