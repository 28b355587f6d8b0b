# `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PERSONS ?= 10000
HOST ?= 127.0.0.1
PORT ?= 8000
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

SPRAK := app/sider/sprak

.PHONY: sprak install browser graphiql-assets schema-linter graphql-http run test test-sqlite test-postgres lint schema klient bench clean

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
	@test -d tests/clients/node_modules/@urql/exchange-persisted || npm ci --prefix tests/clients --no-audit --no-fund --silent

# GraphiQL's vendored assets (committed; app/graphiql/statisk/vendor/README.md): fetched again
# from the npm registry at their pinned versions and checked against SHA256SUMS.
graphiql-assets:
	app/graphiql/hent-ressurser.sh

# graphql-schema-linter from the npm registry (the version in tools/schema-lint/package-lock.json;
# its rules, and why some are off, in tools/schema-lint/graphql-schema-linter.config.js).
SCHEMA_LINTER := tools/schema-lint/node_modules/.bin/graphql-schema-linter

schema-linter:
	@test -x $(SCHEMA_LINTER) || npm ci --prefix tools/schema-lint --no-audit --no-fund --silent

# graphql-http's audits of the GraphQL-over-HTTP spec (tests/test_graphql_http.py), from the npm
# registry (the versions in tests/graphql_http/package-lock.json); run by node.
graphql-http:
	@test -f tests/graphql_http/node_modules/graphql-http/package.json || npm ci --prefix tests/graphql_http --no-audit --no-fund --silent

# The pages' words (README "The pages' languages"): every marked string of code and templates
# extracted into the template, then merged into each language's catalogue (new strings empty,
# changed ones fuzzy, for the translator). The .po files are what runs: read at startup.
sprak: install
	mkdir -p var
	$(BIN)/pybabel extract --no-location --sort-output --omit-header -w 100 -F babel.cfg \
		-o var/messages.pot app
	$(BIN)/pybabel update --ignore-obsolete -w 100 -i var/messages.pot -d $(SPRAK) -D messages

run: install
	KRR_ENV=dev $(BIN)/krr seed --persons $(PERSONS)
	KRR_ENV=dev $(BIN)/krr organisasjoner importer app/enhetsregisteret/eksempel/enheter.json
	KRR_ENV=dev $(BIN)/krr tilgangsstyrer legg-til 974760673 17912099997  # the demo access manager
	KRR_ENV=dev $(BIN)/krr print-sertifikat sett 984661185 app/testdata/seed_data/print.pem  # the demo print provider (self-signed)
	KRR_ENV=dev $(BIN)/krr serve --host $(HOST) --port $(PORT)

# Style, the layers (import-linter contracts in pyproject.toml), types, and the GraphQL schema.
lint: install schema-linter
	$(BIN)/ruff check --no-cache app authz tests bench examples
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(SCHEMA_LINTER) --config-directory tools/schema-lint schema.graphql

# The two databases' runs side by side (each prints its output whole when it ends): they share
# nothing but the machine (SQLite in a temporary folder, PostgreSQL's database `test`, Redis
# under a key prefix of each test's own, free ports).
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: install browser graphql-http
	KRR_ENV=test $(BIN)/pytest -q -p no:cacheprovider

# A missing PostgreSQL is a failure, not a skip.
test-postgres: install browser graphql-http
	KRR_ENV=test KRR_TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -q -p no:cacheprovider

schema: install
	$(BIN)/krr export-schema > schema.graphql

# The typed client example (examples/klient) regenerated from schema.graphql by ariadne-codegen,
# in a venv of its own (it pins graphql-core below what strawberry needs).
klient: schema
	test -x .venv-codegen/bin/ariadne-codegen || ($(PYTHON) -m venv .venv-codegen && .venv-codegen/bin/pip install --quiet "ariadne-codegen==0.19.0")
	cd examples/klient && ../../.venv-codegen/bin/ariadne-codegen client

bench: install
	$(BIN)/python bench/lookup.py

clean:
	rm -rf $(VENV) var build *.egg-info
