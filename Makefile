# Vedetta — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: deps test-deps build demo test fmt lint check clean

# What Vedetta needs to build and run (Debian packages, the Rust components).
deps:
	@scripts/install-deps.sh
	@scripts/webapp.sh

# What the tests need besides: the independent Python clients (tests/clients/requirements.txt) and the browser
# tests' playwright-core and axe-core (tests/browser).
test-deps: deps
	@scripts/python-clients.sh
	@scripts/browser-deps.sh

build: deps
	$(CARGO) build --release --locked

# Starts Vedetta on a generated demo territory with a private PostGIS cluster and the embedded MQTT broker.
demo: build
	./target/release/vedetta demo

# fmt check, clippy with warnings denied, and every test (unit, database, end-to-end).
test: test-deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked --no-fail-fast

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
