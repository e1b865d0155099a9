# weft: the two commands are `make demo` (run Fabric's first-network locally) and `make test`.
CARGO ?= cargo
NETWORK := deploy/local/network.sh

.PHONY: build demo up down status test bench clean

build:
	$(CARGO) build --workspace --bins

## Fabric's first-network as local processes on 127.0.0.1 with byfn's steps; Ctrl-C stops everything.
demo: build
	bash $(NETWORK) demo

## The same network in the background; returns when it is ready.
up: build
	bash $(NETWORK) up

## Stop the background network and remove its state.
down:
	bash $(NETWORK) down

status:
	bash $(NETWORK) status

## The whole test suite (unit, codec, ledger, QUIC, process tests), with formatting and lints.
test: build
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

## Benchmarks on release builds; each ends with `name: value unit` lines.
bench:
	$(CARGO) build --release --workspace --bins
	WEFT_BIN=$(CURDIR)/target/release $(CARGO) run --release -q -p weft-integration-tests --bin gossip_bench
	WEFT_BIN=$(CURDIR)/target/release $(CARGO) run --release -q -p weft-integration-tests --bin dissemination_bench
	$(CARGO) run --release -q -p weft-integration-tests --bin commit_bench
	WEFT_BIN=$(CURDIR)/target/release $(CARGO) run --release -q -p weft-integration-tests --bin e2e_bench

clean: down
	$(CARGO) clean
