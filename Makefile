# booking-api: the two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run build test lint fmt bench doc example clean fuzz

## Build and start the server on the embedded SQLite store (data/booking.db).
run:
	$(CARGO) run --release -p booking-server --bin booking-api -- serve

build:
	$(CARGO) build --release -p booking-server --bin booking-api

## Every test: formatting, clippy (warnings are errors), unit, property, doc,
## store-contract (SQLite and Postgres) and end-to-end tests. Without
## TEST_DATABASE_URL, scripts/test-postgres.sh installs PostgreSQL with apt if
## missing and runs a throw-away local cluster for the run. The e2e tests run
## the real binary on 127.0.0.1. The Postgres tests must run here (a missing
## database fails them; see tests/build.rs), as must the CalDAV tests
## (scripts/test-caldav.sh keeps Radicale and the Python caldav client, pinned,
## in a virtual environment under ~/.cache/booking-api, installing them with
## pip when missing), and no benchmark does: bench
## targets are left out (`make lint` still compiles them). The customer
## page's browser tests drive headless Chromium: scripts/test-browser.sh
## installs Debian's chromium and chromium-driver with apt if missing (a
## missing driver fails them here).
test: export BOOKING_REQUIRE_POSTGRES = 1
test: lint
	$(CARGO) build -p booking-server --bin booking-api
	scripts/test-postgres.sh scripts/test-caldav.sh scripts/test-browser.sh $(CARGO) test --workspace --lib --bins --tests --examples
	$(CARGO) test --workspace --doc
	scripts/test-clients.sh

## Formatting, clippy (warnings are errors), rustdoc (a broken intra-doc
## link is an error) and unused dependencies
## (cargo-machete, installed at this pinned version when missing; a false
## positive goes in the crate's [package.metadata.cargo-machete] ignored list).
CARGO_MACHETE_VERSION := 0.9.2
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps
	@[ "$$($(CARGO) machete --version 2>/dev/null)" = "$(CARGO_MACHETE_VERSION)" ] || \
		$(CARGO) install cargo-machete --locked --version $(CARGO_MACHETE_VERSION)
	$(CARGO) machete

fmt:
	$(CARGO) fmt --all

## Benchmarks of the hot paths (not tests; numbers in docs/performance.md):
## criterion for availability, then the HTTP load benchmark on Postgres
## (booking creation vs pgbench, availability reads), then webhook delivery
## latency and throughput and calendar write-back at a fixed rate on the
## release server, on SQLite and on Postgres (tests/benches/webhooks.rs;
## about two minutes).
bench:
	$(CARGO) bench -p booking-domain --bench availability
	$(CARGO) bench -p booking-ical --bench feed
	$(CARGO) bench -p booking-calendars --bench ics
	scripts/bench-http.sh
	scripts/bench-sqlite.sh
	$(CARGO) build --release -p booking-server --bin booking-api
	scripts/test-postgres.sh $(CARGO) bench -p booking-tests --bench webhooks

## The fuzz test of every route (tests/suite/api/fuzz.rs: proptest over the
## wire types, against the real binary on SQLite) with FUZZ_CASES cases per
## operation instead of the 200 `make test` runs (5000: about eight minutes).
## A failure prints the shrunk request and the seed, and is saved to
## tests/suite/api/fuzz.proptest-regressions, which every run replays first.
FUZZ_CASES ?= 5000
fuzz:
	$(CARGO) build -p booking-server --bin booking-api
	BOOKING_FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test -p booking-tests --test suite -- \
		api::fuzz::every_route_answers_fuzzed_bodies_and_queries_within_the_contract --exact --nocapture

## The domain crate's runnable example: the seed service around a DST change.
example:
	$(CARGO) run -p booking-domain --example week_around_dst

doc:
	$(CARGO) doc --workspace --no-deps

clean:
	$(CARGO) clean
