# Vedetta — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: deps build demo test fmt lint check clean

deps:
	@scripts/install-deps.sh
	@scripts/python-clients.sh

build: deps
	$(CARGO) build --release --locked

# Starts Vedetta on a generated demo territory with a private PostGIS cluster and the embedded MQTT broker.
demo: build
	./target/release/vedetta demo

# fmt check, clippy with warnings denied, and every test (unit, database, end-to-end).
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
