# `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PERSONS ?= 10000
HOST ?= 127.0.0.1
PORT ?= 8000
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: install browser graphql-http run test test-sqlite test-postgres lint schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests open the pages in headless Chromium (Debian's package; needs root), driven by
# Playwright for Python (no browser download), and check them with axe-core from the npm
# registry (the version in tests/browser/package-lock.json).
browser:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)
	@test -f tests/browser/node_modules/axe-core/axe.min.js || npm ci --prefix tests/browser --no-audit --no-fund --silent

# graphql-http's audits of the GraphQL-over-HTTP spec (tests/test_graphql_http.py), from the npm
# registry (the versions in tests/graphql_http/package-lock.json); run by node.
graphql-http:
	@test -f tests/graphql_http/node_modules/graphql-http/package.json || npm ci --prefix tests/graphql_http --no-audit --no-fund --silent

run: install
	KRR_ENV=dev $(BIN)/krr seed --persons $(PERSONS)
	KRR_ENV=dev $(BIN)/krr organisasjoner importer app/enhetsregisteret/eksempel/enheter.json
	KRR_ENV=dev $(BIN)/krr tilgangsstyrer legg-til 974760673 17912099997  # the demo access manager
	KRR_ENV=dev $(BIN)/krr serve --host $(HOST) --port $(PORT)

# Style, the layers (import-linter contracts in pyproject.toml) and types.
lint: install
	$(BIN)/ruff check --no-cache app authz tests bench examples
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: lint test-sqlite test-postgres

test-sqlite: install browser graphql-http
	KRR_ENV=test $(BIN)/pytest -q -p no:cacheprovider

# A missing PostgreSQL is a failure, not a skip.
test-postgres: install browser graphql-http
	KRR_ENV=test KRR_TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -q -p no:cacheprovider

schema: install
	$(BIN)/krr export-schema > schema.graphql

bench: install
	$(BIN)/python bench/lookup.py

clean:
	rm -rf $(VENV) var build *.egg-info
