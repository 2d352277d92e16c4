#!/usr/bin/env bash
# Apache Kafka for cdcd's tests and demo: a single KRaft node (broker and controller in one JVM)
# from the jars pinned in deploy/dev/kafka/pom.xml, fetched from Maven Central and cached in
# $CDCD_CACHE_DIR (default ~/.cache/cdcd), data under $STACK_DIR/kafka, listening on
# 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), transactions enabled.
# CDCD_KAFKA_ADVERTISED_PORT (default: the listener's port) is the port the broker tells its
# clients to connect to: the chaos suite puts a proxy there, so that every connection of a
# client, not only its first, passes through the proxy.
#
# A second listener, SASL_SSL on 127.0.0.1:$KAFKA_SASL_PORT (CDCD_KAFKA_SASL_PORT, default
# 19094), serves the security tests and docs/security.md's examples: TLS with a certificate of
# a CA made at the first start ($KAFKA_DIR/tls/ca.pem is what clients trust; the server's
# certificate is for localhost and 127.0.0.1), and SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
# for the user $KAFKA_SASL_USER (password $KAFKA_SASL_PASSWORD). The SCRAM credentials are
# written by `kafka-storage format --add-scram` when the data folder is formatted (a data
# folder formatted before this listener existed has none: `kafka.sh down`, remove
# $KAFKA_DATA, up); PLAIN's users are in the listener's JAAS configuration. The broker runs the
# StandardAuthorizer, with the PLAINTEXT principal (ANONYMOUS) and $KAFKA_SASL_USER as super
# users: ACLs bind only the users a test creates for them.
#
# CDCD_KAFKA_EXTRA_LISTENERS (default none): more PLAINTEXT listeners, space-separated
# NAME:PORT:ADVERTISED_PORT, each advertising its own port: a test puts one proxy per client in
# front of the broker and cuts one client off (integration/group_cutoff_test.go).
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
KAFKA_TLS=$KAFKA_DIR/tls
KAFKA_SASL_USER=cdcd
KAFKA_SASL_PASSWORD=cdcd-secret
EXTRA_LISTENERS='' EXTRA_ADVERTISED='' EXTRA_MAP=''
for listener in ${CDCD_KAFKA_EXTRA_LISTENERS:-}; do
	IFS=: read -r name port advertised <<<"$listener"
	EXTRA_LISTENERS+=",$name://$STACK_HOST:$port"
	EXTRA_ADVERTISED+=",$name://$STACK_HOST:$advertised"
	EXTRA_MAP+=",$name:PLAINTEXT"
done

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

# make_certificates makes, once, the CA of the SASL_SSL listener and the server's certificate it
# signs, both kept across restarts so that what clients trust stays valid: ca.pem (the CA, for
# clients), server.pem (the server's PKCS#8 key then its certificate: Kafka's PEM keystore).
make_certificates() {
	[ -f "$KAFKA_TLS/server.pem" ] && return 0
	command -v openssl >/dev/null || apt_install openssl
	say "making the SASL_SSL listener's CA and certificate in $KAFKA_TLS"
	local tmp=$KAFKA_TLS.partial
	rm -rf "$tmp"
	mkdir -p "$tmp"
	{
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cdcd dev stack CA" \
			-keyout "$tmp/ca.key" -out "$tmp/ca.pem" &&
			openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
				-keyout "$tmp/server.key" -out "$tmp/server.csr" &&
			printf 'subjectAltName=DNS:localhost,IP:%s\nextendedKeyUsage=serverAuth\n' "$STACK_HOST" >"$tmp/server.ext" &&
			openssl x509 -req -days 3650 -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
				-CAcreateserial -extfile "$tmp/server.ext" -out "$tmp/server.crt"
	} >"$KAFKA_DIR/openssl.log" 2>&1 || fail "making the certificates failed; see $KAFKA_DIR/openssl.log"
	cat "$tmp/server.key" "$tmp/server.crt" >"$tmp/server.pem"
	chmod 600 "$tmp"/*.key "$tmp/server.pem"
	rm -rf "$KAFKA_TLS"
	mv "$tmp" "$KAFKA_TLS"
}

write_config() {
	mkdir -p "$KAFKA_DATA"
	cat >"$KAFKA_PROPS" <<EOF
# Written by deploy/dev/kafka.sh; rewritten at every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$STACK_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$STACK_HOST:$KAFKA_PORT,CONTROLLER://$STACK_HOST:$KAFKA_CONTROLLER_PORT,SASL_SSL://$STACK_HOST:$KAFKA_SASL_PORT$EXTRA_LISTENERS
advertised.listeners=PLAINTEXT://$STACK_HOST:$KAFKA_ADVERTISED_PORT,SASL_SSL://$STACK_HOST:$KAFKA_SASL_PORT$EXTRA_ADVERTISED
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL$EXTRA_MAP
# The SASL_SSL listener: TLS with the stack's certificate (PEM keystore, key unencrypted), and
# PLAIN (users in the JAAS line), SCRAM-SHA-256 and SCRAM-SHA-512 (users in the metadata log).
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$KAFKA_TLS/server.pem
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# ACLs (StandardAuthorizer) bind the SASL users other than $KAFKA_SASL_USER: the PLAINTEXT and
# controller listeners' principal (ANONYMOUS) and $KAFKA_SASL_USER are super users, so that
# everything but a test's own restricted user goes on as without ACLs.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:$KAFKA_SASL_USER
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
	make_certificates
	write_config
	if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
		local cluster_id
		cluster_id=$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>"$KAFKA_DIR/format.log") ||
			fail "generating a cluster id failed; see $KAFKA_DIR/format.log"
		say "formatting $KAFKA_DATA (cluster $cluster_id)"
		java -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="file:$KAFKA_DIR/log4j2.xml" \
			kafka.tools.StorageTool format -g -t "$cluster_id" -c "$KAFKA_PROPS" \
			--add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
			--add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" >>"$KAFKA_DIR/format.log" 2>&1 ||
			fail "formatting the log dir failed; see $KAFKA_DIR/format.log"
	fi
	say "starting on $STACK_HOST:$KAFKA_PORT (log: $KAFKA_LOG)"
	# The JVM flags of Kafka's own kafka-run-class.sh (KAFKA_JVM_PERFORMANCE_OPTS): without
	# MaxGCPauseMillis=20, G1 aims at 200 ms pauses, and a young collection of the broker held
	# every produce for ~50 ms, the tail of the commit-to-visible latency.
	# shellcheck disable=SC2086 # KAFKA_HEAP holds several JVM flags.
	setsid java $KAFKA_HEAP -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
		-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="file:$KAFKA_DIR/log4j2.xml" \
		-cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" </dev/null >>"$KAFKA_LOG" 2>&1 &
	echo $! >"$KAFKA_PID"
	wait_ready
	say "ready: $STACK_HOST:$KAFKA_PORT (KRaft, transactions enabled); SASL_SSL on $STACK_HOST:$KAFKA_SASL_PORT (CA $KAFKA_TLS/ca.pem)"
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
