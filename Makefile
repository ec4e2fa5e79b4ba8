# The two commands: `make run` (the app with demo data) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app:create_app
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe-core-$(AXE_VERSION)/axe.min.js
# pytest-xdist processes per run; each has its own SQLite file, PostgreSQL database (<name>_gw0, ...) and browser.
TEST_WORKERS ?= 2

.PHONY: run prod test screenshots translations clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d translations -D messages >/dev/null
	touch $@

run: $(BIN)/.installed $(CATALOGS)
	$(BIN)/flask db upgrade
	$(BIN)/flask demo --if-empty
	$(BIN)/flask serve

# Production mode here: gunicorn workers and one scheduler, supervised (deploy/supervise.py), on the local PostgreSQL and Redis.
prod: $(BIN)/.installed $(CATALOGS)
	deploy/run-local.sh

# SQLite (with the browser tests), then the database tests again on PostgreSQL.
test: $(BIN)/.installed $(CATALOGS) $(AXE)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)
	@if $(BIN)/python tests/pg_available.py "$(TEST_DATABASE_URL)"; then \
		TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not e2e and not standalone"; \
	elif [ "$$CI" = "true" ]; then echo "PostgreSQL is required in CI but not reachable"; exit 1; \
	else echo "PostgreSQL not reachable at $(TEST_DATABASE_URL): skipped the PostgreSQL run"; fi

# Every page at 360 and 1280 px in English and Russian into test-artifacts/screenshots/, with an index.html that
# shows them side by side (the layout guard's walk, tests/e2e/test_layout.py, saving pictures as it goes).
SCREENSHOTS := test-artifacts/screenshots
screenshots: $(BIN)/.installed $(CATALOGS)
	rm -rf $(SCREENSHOTS)
	KABINET_SCREENSHOTS=$(CURDIR)/$(SCREENSHOTS) $(BIN)/python -m pytest -n 0 -q -p no:cacheprovider \
		tests/e2e/test_layout.py -k every_page; status=$$?; \
		$(BIN)/python scripts/screenshot_index.py $(SCREENSHOTS); exit $$status

# axe-core for the accessibility tests, from the npm registry (test-time only, never served).
$(AXE):
	mkdir -p $(dir $@)
	cd $(dir $@) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-$(AXE_VERSION).tgz --strip-components=1 package/axe.min.js package/LICENSE

# Re-extract strings into the catalogs after changing them in code or templates.
translations: $(BIN)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output --omit-header -o $(VENV)/messages.pot app.py extensions.py blueprints services models templates
	$(BIN)/pybabel -q update -i $(VENV)/messages.pot -d translations -D messages --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
	$(BIN)/pybabel compile -d translations -D messages

clean:
	rm -rf $(VENV) translations/*/LC_MESSAGES/*.mo
