#!/usr/bin/env bash
# The jars of Kafka's own command-line clients (kafka-console-consumer's class,
# org.apache.kafka.tools.consumer.ConsoleConsumer), pinned in deploy/dev/kafkatools/pom.xml to
# the broker's version, fetched from Maven Central with maven's dependency plugin (as kafka.sh
# fetches the broker) into $CDCD_CACHE_DIR (default ~/.cache/cdcd). Nothing runs here: a test
# runs `java -cp "<folder>/*" org.apache.kafka.tools.consumer.ConsoleConsumer ...`, which is what
# Kafka's bin/kafka-console-consumer.sh runs (integration/partition_test.go).
#
# usage: kafkatools.sh fetch    fetches what is missing, then prints the folder of the jars
COMPONENT=kafkatools
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

POM=$REPO_ROOT/deploy/dev/kafkatools/pom.xml
CACHE_DIR=${CDCD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cdcd}
# The folder is named after the pom's content, so a changed pin fetches anew.
LIBS=$CACHE_DIR/kafka-tools-$(sha256sum "$POM" | cut -c1-12)

fetch() {
	if [ ! -f "$LIBS/.complete" ]; then
		command -v java >/dev/null || apt_install openjdk-17-jre-headless
		command -v mvn >/dev/null || apt_install maven
		mkdir -p "$CACHE_DIR"
		say "fetching Kafka's tools pinned in $POM from Maven Central into $LIBS" >&2
		local partial=$LIBS.partial.$$
		rm -rf "$partial"
		mvn -B -q -f "$POM" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory="$partial" >"$CACHE_DIR/kafkatools-mvn.log" 2>&1 ||
			fail "fetching Kafka's tools failed; see $CACHE_DIR/kafkatools-mvn.log"
		touch "$partial/.complete"
		# Two fetches at once (tests in parallel): the first to finish wins, the other's copy goes.
		if [ -f "$LIBS/.complete" ]; then
			rm -rf "$partial"
		else
			rm -rf "$LIBS"
			mv "$partial" "$LIBS"
		fi
	fi
	printf '%s\n' "$LIBS"
}

case "${1:-}" in
fetch) fetch ;;
*)
	echo "usage: $0 fetch" >&2
	exit 2
	;;
esac
