# Two commands: `make run` (the demo) and `make test` (the whole suite). Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST_PORT ?= 8000
CYCLR_PORT ?= 8001
# The scale-out pass of `make test`: the same suite on PostgreSQL and channels-redis.
SCALEOUT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
SCALEOUT_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=
# The example host's tests (tests/example/), run apart from the kit's (tests/, in tests/settings.py) under its settings.
EXAMPLE_TESTS := --ds=hostkit.settings tests/example
# The benchmark's own PostgreSQL database (dropped and made anew by each run) and Redis (prefix "bench").
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_REDIS_URL ?= $(SCALEOUT_REDIS_URL)

.PHONY: run test test-newest test-fast docs bench bench-quick screenshots browser services gettext clean minify messages

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.installed-run

## make run: install, migrate, create the demo user, start the host and the fake Cyclr.
run: $(VENV)/.installed-run
	PY=$(PY) HOST_PORT=$(HOST_PORT) CYCLR_PORT=$(CYCLR_PORT) scripts/run-demo.sh

## make test: install, build the docs strictly, ensure Chromium, GNU gettext and the services, run the suite on SQLite,
## then on PostgreSQL + Redis.
# Each pass runs the kit's tests (tests/settings.py), then the example host's (tests/example/, hostkit.settings).
test: $(VENV)/.installed-test docs browser gettext services
	$(PY) -m pytest -m "not scaleout" $(PYTEST_ARGS)
	$(PY) -m pytest -m "not scaleout" $(EXAMPLE_TESTS) $(PYTEST_ARGS)
	# The wheel test and the CI's 2,000-example fuzzing ran in the first pass; this one is about the parts.
	DATABASE_URL=$(SCALEOUT_DATABASE_URL) REDIS_URL=$(SCALEOUT_REDIS_URL) CHANNELS_PREFIX=hostkit-test \
		HYPOTHESIS_PROFILE=dev $(PY) -m pytest -m "not packaging" $(PYTEST_ARGS)
	DATABASE_URL=$(SCALEOUT_DATABASE_URL) REDIS_URL=$(SCALEOUT_REDIS_URL) CHANNELS_PREFIX=hostkit-test \
		HYPOTHESIS_PROFILE=dev $(PY) -m pytest -m "not packaging" $(EXAMPLE_TESTS) $(PYTEST_ARGS)

## make docs: the documentation site (mkdocs.yml, docs/) built strictly into var/site/: a broken link or anchor,
## or a page of docs/ missing from the nav, fails it. `make test` runs it first, so CI (.ci/run) builds it too.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

## make test-newest: the SQLite pass (browser included) on the newest Python and Django the ranges allow.
# The first Python 3.13 that runs (a pyenv shim may exist without its version being active).
NEWEST_PYTHON ?= $(shell for p in $${PYENV_ROOT:-$${HOME:-/root}/.pyenv}/versions/3.13*/bin/python3 python3.13; do \
	"$$p" -c "import sys; assert sys.version_info[:2] == (3, 13)" 2>/dev/null && { command -v "$$p"; break; }; done)
test-newest: browser gettext
	@test -n "$(NEWEST_PYTHON)" || { echo "No Python 3.13 found: install it, or run make test-newest NEWEST_PYTHON=/path/to/python3.13" >&2; exit 1; }
	$(MAKE) VENV=.venv-newest PYTHON=$(NEWEST_PYTHON) .venv-newest/.installed-test
	HYPOTHESIS_PROFILE=dev .venv-newest/bin/python -m pytest -m "not scaleout and not packaging" $(PYTEST_ARGS)
	HYPOTHESIS_PROFILE=dev .venv-newest/bin/python -m pytest -m "not scaleout and not packaging" $(EXAMPLE_TESTS) $(PYTEST_ARGS)

## make test-fast: the SQLite pass only, without the browser tests.
test-fast: $(VENV)/.installed-test gettext
	$(PY) -m pytest -m "not scaleout and not browser" $(PYTEST_ARGS)
	$(PY) -m pytest -m "not scaleout and not browser" $(EXAMPLE_TESTS) $(PYTEST_ARGS)

## make bench: the kit against its floors on SQLite, then PostgreSQL + Redis; writes docs/BENCHMARKS.md.
bench: $(VENV)/.installed-test services
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_REDIS_URL=$(BENCH_REDIS_URL) $(PY) -m bench.run --postgres

## make bench-quick: a one-minute smoke run of the benchmark (SQLite); writes var/bench/.
bench-quick: $(VENV)/.installed-test
	$(PY) -m bench.run --quick

## make screenshots: rerun the browser tests and keep their screenshots for the README.
screenshots: $(VENV)/.installed-test browser
	HOSTKIT_SCREENSHOTS=docs/screenshots $(PY) -m pytest --ds=hostkit.settings tests/example/browser -q

browser:
	@scripts/ensure-chromium.sh

# GNU gettext: makemessages and the catalogue's test (tests/test_translations.py) run it.
gettext:
	@scripts/ensure-gettext.sh

services:
	@scripts/ensure-services.sh

clean:
	rm -rf $(VENV) .venv-newest var .pytest_cache

## make messages: refresh proxy/locale/*/LC_MESSAGES/django.po from the sources and compile each .mo; then translate
## what is new (or fuzzy), and run it again. The suite fails while a catalogue is out of date (docs/translations.md).
messages: $(VENV)/.installed-test gettext
	$(PY) scripts/messages.py

## make minify: rewrite proxy/static/proxy/js/*.min.js from the readable sources (tdewolff-minify); commit both.
minify: $(VENV)/.installed-test
	$(PY) scripts/minify_js.py
