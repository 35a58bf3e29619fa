# booking-api: the two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run build test lint fmt bench doc example clean

## Build and start the server on the embedded SQLite store (data/booking.db).
run:
	$(CARGO) run --release -p booking-server --bin booking-api -- serve

build:
	$(CARGO) build --release -p booking-server --bin booking-api

## Every test: formatting, clippy (warnings are errors), unit, property, doc,
## store-contract and end-to-end tests. Installs nothing beyond the Rust
## toolchain; the e2e tests run the real binary on 127.0.0.1 with temporary
## SQLite files.
test: lint
	$(CARGO) build -p booking-server --bin booking-api
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Criterion benchmarks of the hot paths (not tests; numbers in docs/performance.md).
bench:
	$(CARGO) bench -p booking-domain --bench availability

## The domain crate's runnable example: the seed service around a DST change.
example:
	$(CARGO) run -p booking-domain --example week_around_dst

doc:
	$(CARGO) doc --workspace --no-deps

clean:
	$(CARGO) clean
