#!/usr/bin/env bash
# make integration: the end-to-end tests of integration/ against the stack's servers, in two
# shards run at once, then the tests that must have the servers to themselves, one after the
# other. Most of a test's time is spent waiting (for Kafka, a database, a process), so two at a
# time roughly halve the wall time on two cores; every test already uses databases, slots,
# users and topics of its own, and restarts only private servers.
#
# usage: integration.sh [-run REGEXP]   (REGEXP narrows the tests, as go test -run does)
# INTEGRATION_SHARDS (default 2) sets how many shards run at once; 1 runs everything in order.
COMPONENT=integration
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Tests that change what every other test sees on a shared server, or that measure this
# process's memory or a fault's timing that a neighbour would disturb: they run alone, after
# the shards. (A binlog purge removes the files other MariaDB tests stream from; the memory
# bounds are of one cdcd under one workload; the demo and the stack test use the stack's own
# names and scripts.)
SERIAL=(
	TestMySQLSnapshotModesAfterBinlogsPurged
	TestPostgresLargeValueMemory
	TestMySQLLargeValueMemory
	TestPostgresSnapshotLargeValueMemory
	TestKafkaOutagePausesReadingWithFlatMemory
	TestChaosInMakeTest
	TestMakeDemo
	TestStackScriptsAreIdempotentAndLeaveNoProcess
)

filter='.'
if [ "${1:-}" = "-run" ]; then
	filter=${2:?"-run needs a regular expression"}
fi
shards=${INTEGRATION_SHARDS:-2}
out=$STACK_DIR/integration
mkdir -p "$out"
bin=$out/integration.test

say "building the tests"
(cd "$REPO_ROOT" && go test -c -o "$bin" ./integration) || fail "go test -c ./integration failed"

# The top-level tests, in the order go test runs them, narrowed by the filter.
mapfile -t tests < <(cd "$REPO_ROOT/integration" && "$bin" -test.list '^Test' | grep '^Test' | grep -E -- "$filter")
[ ${#tests[@]} -gt 0 ] || fail "no test matches $filter"

declare -A alone
for t in "${SERIAL[@]}"; do alone[$t]=1; done
serial=() parallel=()
for t in "${tests[@]}"; do
	if [ -n "${alone[$t]:-}" ]; then
		serial+=("$t")
	else
		parallel+=("$t")
	fi
done

# run NAME TESTS... runs the named tests in one test process, its output in $out/NAME.log.
run() {
	local name=$1
	shift
	[ $# -gt 0 ] || return 0
	local pattern
	pattern="^($(IFS='|'; echo "$*"))\$"
	(cd "$REPO_ROOT/integration" && "$bin" -test.run "$pattern" -test.count=1 -test.v -test.timeout 25m) >"$out/$name.log" 2>&1
}

declare -A shard_tests
for i in "${!parallel[@]}"; do
	shard_tests[$((i % shards))]+="${parallel[$i]} "
done

say "${#parallel[@]} tests in $shards shards at once, then ${#serial[@]} alone; logs in $out"
pids=() names=()
for ((s = 0; s < shards; s++)); do
	# shellcheck disable=SC2086 # the list is space-separated test names
	run "shard$s" ${shard_tests[$s]:-} &
	pids+=($!)
	names+=("shard$s")
done
failed=()
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || failed+=("${names[$i]}")
done
run serial "${serial[@]}" || failed+=(serial)

# Each log whole, one after the other, so that a test's lines stay together.
for name in "${names[@]}" serial; do
	[ -f "$out/$name.log" ] || continue
	echo "=== $name"
	cat "$out/$name.log"
done
rm -f "$out"/*.log
[ ${#failed[@]} -eq 0 ] || fail "tests failed in: ${failed[*]} (their output is above)"
say "every test passed"
