#!/usr/bin/env bash
# Apache Kafka for cdcd's tests and demo: a single KRaft node (broker and controller in one JVM)
# from the jars pinned in deploy/dev/kafka/pom.xml, fetched from Maven Central and cached in
# $CDCD_CACHE_DIR (default ~/.cache/cdcd), data under $STACK_DIR/kafka, listening on
# 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), transactions enabled.
# CDCD_KAFKA_ADVERTISED_PORT (default: the listener's port) is the port the broker tells its
# clients to connect to: the chaos suite puts a proxy there, so that every connection of a
# client, not only its first, passes through the proxy.
#
# usage: kafka.sh up|down|status
COMPONENT=kafka
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_DIR=$STACK_DIR/kafka
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_LOG=$KAFKA_DIR/kafka.log
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_PROPS=$KAFKA_DIR/server.properties
KAFKA_POM=$REPO_ROOT/deploy/dev/kafka/pom.xml
CACHE_DIR=${CDCD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cdcd}
# The jar folder is named after the pom's content, so a changed pin fetches anew.
KAFKA_LIBS=$CACHE_DIR/kafka-libs-$(sha256sum "$KAFKA_POM" | cut -c1-12)
KAFKA_HEAP=${CDCD_KAFKA_HEAP:--Xms512m -Xmx1g}
KAFKA_ADVERTISED_PORT=${CDCD_KAFKA_ADVERTISED_PORT:-$KAFKA_PORT}
READY_BIN=$STACK_DIR/bin/kafkaready

fetch_jars() {
	[ -f "$KAFKA_LIBS/.complete" ] && return 0
	command -v java >/dev/null || apt_install openjdk-17-jre-headless
	command -v mvn >/dev/null || apt_install maven
	say "fetching the Kafka jars pinned in $KAFKA_POM from Maven Central into $KAFKA_LIBS"
	local partial=$KAFKA_LIBS.partial
	rm -rf "$partial"
	mkdir -p "$partial"
	mvn -B -q -f "$KAFKA_POM" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$partial" >"$CACHE_DIR/mvn.log" 2>&1 ||
		fail "fetching the Kafka jars failed; see $CACHE_DIR/mvn.log"
	touch "$partial/.complete"
	rm -rf "$KAFKA_LIBS"
	mv "$partial" "$KAFKA_LIBS"
}

write_config() {
	mkdir -p "$KAFKA_DATA"
	cat >"$KAFKA_PROPS" <<EOF
# Written by deploy/dev/kafka.sh; rewritten at every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$STACK_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$STACK_HOST:$KAFKA_PORT,CONTROLLER://$STACK_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$STACK_HOST:$KAFKA_ADVERTISED_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
# cdcd creates the topics it writes, with the settings each needs (compaction for offsets).
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
	cat >"$KAFKA_DIR/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="INFO">
      <AppenderRef ref="stdout"/>
    </Root>
  </Loggers>
</Configuration>
EOF
}

build_ready_probe() {
	(cd "$REPO_ROOT" && go build -o "$READY_BIN" ./deploy/dev/kafkaready) ||
		fail "building deploy/dev/kafkaready failed"
}

ready() { "$READY_BIN" -brokers "$STACK_HOST:$KAFKA_PORT" -timeout "${1:-5s}"; }

# wait_ready polls the broker while its process lives, so that a broker that dies at start
# fails at once instead of after the whole timeout.
wait_ready() {
	local deadline=$((SECONDS + READY_TIMEOUT))
	until ready 2s >/dev/null 2>&1; do
		pid_alive "$KAFKA_PID" || fail "the broker exited during start; see $KAFKA_LOG"
		((SECONDS < deadline)) || fail "no answer on $STACK_HOST:$KAFKA_PORT after ${READY_TIMEOUT}s; see $KAFKA_LOG"
	done
	say "answering metadata requests"
}

up() {
	build_ready_probe
	if pid_alive "$KAFKA_PID" && ready >/dev/null 2>&1; then
		say "already running on $STACK_HOST:$KAFKA_PORT"
		return 0
	fi
	if pid_alive "$KAFKA_PID"; then
		say "a broker of this stack runs but does not answer; restarting it"
		stop_pid "$KAFKA_PID" Kafka
	fi
	fetch_jars
	write_config
	if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
		local cluster_id
		cluster_id=$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>"$KAFKA_DIR/format.log") ||
			fail "generating a cluster id failed; see $KAFKA_DIR/format.log"
		say "formatting $KAFKA_DATA (cluster $cluster_id)"
		java -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="file:$KAFKA_DIR/log4j2.xml" \
			kafka.tools.StorageTool format -g -t "$cluster_id" -c "$KAFKA_PROPS" >>"$KAFKA_DIR/format.log" 2>&1 ||
			fail "formatting the log dir failed; see $KAFKA_DIR/format.log"
	fi
	say "starting on $STACK_HOST:$KAFKA_PORT (log: $KAFKA_LOG)"
	# shellcheck disable=SC2086 # KAFKA_HEAP holds several JVM flags.
	setsid java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="file:$KAFKA_DIR/log4j2.xml" \
		-cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" </dev/null >>"$KAFKA_LOG" 2>&1 &
	echo $! >"$KAFKA_PID"
	wait_ready
	say "ready: $STACK_HOST:$KAFKA_PORT (KRaft, transactions enabled)"
}

down() { stop_pid "$KAFKA_PID" Kafka; }

status() {
	if pid_alive "$KAFKA_PID" && [ -x "$READY_BIN" ] && ready >/dev/null 2>&1; then
		say "running on $STACK_HOST:$KAFKA_PORT, data $KAFKA_DATA, log $KAFKA_LOG"
	else
		say "not running (data $KAFKA_DATA, log $KAFKA_LOG)"
		return 3
	fi
}

case "${1:-}" in
up | down | status) "$1" ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
