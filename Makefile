# weft: the two commands are `make demo` (run Fabric's first-network locally) and `make test`.
CARGO ?= cargo
NETWORK := deploy/local/network.sh
COMPOSE_NETWORK := deploy/compose/network.sh
# Static binaries for the FROM scratch images (glibc linked in; its DNS and files back ends resolve compose names).
STATIC_TARGET := x86_64-unknown-linux-gnu

.PHONY: build demo up down status test bench clean images compose-up compose-down compose-walkthrough compose-test

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

## Docker images weft/orderer and weft/peer: static binaries in FROM scratch images, nothing pulled.
images:
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release --target $(STATIC_TARGET) \
		-p weft-orderer -p weft-peer -p weft-ca --bins
	bash $(COMPOSE_NETWORK) images

## The same first-network in docker compose (deploy/compose), with mychannel created and basic defined.
compose-up: images
	bash $(COMPOSE_NETWORK) up

## Remove the compose network: containers, network, volumes and generated state (down -v).
compose-down:
	bash $(COMPOSE_NETWORK) down

## The gossip walk-through in compose, step by step, printing what the operations endpoints show.
compose-walkthrough: images
	bash $(COMPOSE_NETWORK) walkthrough

## The compose network end to end: up, invoke, leader stop/start, partition and heal, down -v.
compose-test: images
	bash deploy/compose/test.sh

clean: down
	$(CARGO) clean
