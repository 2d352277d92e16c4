# The commands the README names. CI runs `make test` (.ci/run) on a fresh clone.
SHELL := /bin/bash
GO ?= go
STACK := deploy/dev/stack.sh
# Every package but the end-to-end tests, which need the stack and run in `make integration`.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/integration$$')

.PHONY: test lint unit integration chaos stack-up stack-down stack-status demo bench bench-debezium

## test: bring the local stack up, then lint, unit tests (-race) and integration tests.
test: stack-up lint unit integration

## lint: gofmt, go vet and staticcheck (pinned in go.mod as a tool).
lint:
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## unit: the unit tests, with the race detector.
unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)

## integration: the end-to-end tests against the real PostgreSQL, MariaDB and Kafka, two shards
## at once and then the tests that need the servers alone (deploy/dev/integration.sh; RUN=regexp
## narrows them, INTEGRATION_SHARDS=1 runs them one by one).
integration: stack-up
	@deploy/dev/integration.sh $(if $(RUN),-run '$(RUN)')

## chaos: bring the stack up, then run the faults of docs/reliability.md against real servers
## (toxiproxy in the test process, private servers for restarts) and print their table; CHAOS_RUN
## picks faults by sub-test name (a -run pattern under TestChaos). About 30 min, 12 of them the
## 100 SIGKILLs a source (CDCD_CHAOS_KILLS=10 for a quicker run).
chaos: stack-up
	$(GO) test -tags chaos -count=1 -p 1 -timeout 60m -v -run '^TestChaos$$/$(CHAOS_RUN)' ./integration

## stack-up: install (if missing) and start (if not running) PostgreSQL (18; CDCD_PG_VERSION=15,
## 16 or 17 for another), MariaDB and Kafka.
stack-up:
	@$(STACK) up

## stack-down: stop the three servers; no process of the stack is left behind.
stack-down:
	@$(STACK) down

## stack-status: the state of each server, with its data folder and log.
stack-status:
	@$(STACK) status

## demo: bring the stack up, run cdcd on the table public.items of the database cdcd_demo, write,
## print the events of demo.public.items explained line by line, drop the slot; then print how
## to reach each server.
demo: stack-up
	@deploy/dev/demo.sh

## bench: bring the stack up and measure the PostgreSQL pipeline (docs/benchmarks.md); flags in BENCH_FLAGS,
## e.g. BENCH_FLAGS="-only scale" for 1,000 tables, 50 connectors and 10 partitions.
bench: stack-up
	$(GO) run ./bench $(BENCH_FLAGS)

## bench-debezium: bring the stack up, fetch Kafka Connect and Debezium's connectors (pinned in
## deploy/dev/debezium/, cached under .stack/debezium), and measure cdcd and Debezium on the same
## workloads, one table (docs/benchmarks.md); flags in BENCH_FLAGS.
bench-debezium: stack-up
	@home=$$(deploy/dev/debezium.sh fetch) && $(GO) run ./bench -debezium "$$home" $(BENCH_FLAGS)
