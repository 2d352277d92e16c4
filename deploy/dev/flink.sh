#!/usr/bin/env bash
# Apache Flink for the foreign-reader test: the jars pinned in deploy/dev/flink/pom.xml (Flink's
# Table API, planner, mini-cluster, the Kafka SQL connector and flink-json's debezium-json),
# fetched from Maven Central with maven's dependency plugin (as kafka.sh fetches the broker),
# and deploy/dev/flink/src/FlinkSQL.java compiled against them, cached in $CDCD_CACHE_DIR
# (default ~/.cache/cdcd)/flink-<hash of the pom and the program>. Nothing runs here: a test runs
# `java -cp "<folder>/classes:<folder>/libs/*" FlinkSQL <file of SQL statements>`
# (integration/foreign_flink_test.go), a local mini-cluster in that one JVM.
#
# usage: flink.sh fetch    fetches and builds what is missing, then prints the folder
COMPONENT=flink
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

POM=$REPO_ROOT/deploy/dev/flink/pom.xml
PROGRAM=$REPO_ROOT/deploy/dev/flink/src/FlinkSQL.java
CACHE_DIR=${CDCD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cdcd}
# The folder is named after the pom's and the program's content, so a change fetches anew.
DIR=$CACHE_DIR/flink-$(cat "$POM" "$PROGRAM" | sha256sum | cut -c1-12)

fetch() {
	if [ ! -f "$DIR/.complete" ]; then
		command -v mvn >/dev/null || apt_install maven
		# javac: the JRE alone (kafka.sh's openjdk-17-jre-headless) cannot compile the program.
		command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
		mkdir -p "$CACHE_DIR"
		say "fetching Flink pinned in $POM from Maven Central into $DIR" >&2
		local partial=$DIR.partial.$$ log=$CACHE_DIR/flink-mvn.log
		rm -rf "$partial"
		mvn -B -q -f "$POM" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory="$partial/libs" >"$log" 2>&1 ||
			fail "fetching Flink failed; see $log"
		javac -cp "$partial/libs/*" -d "$partial/classes" "$PROGRAM" >>"$log" 2>&1 ||
			fail "compiling $PROGRAM failed; see $log"
		touch "$partial/.complete"
		# Two fetches at once (tests in parallel): the first to finish wins, the other's copy goes.
		if [ -f "$DIR/.complete" ]; then
			rm -rf "$partial"
		else
			rm -rf "$DIR"
			mv "$partial" "$DIR"
		fi
	fi
	printf '%s\n' "$DIR"
}

case "${1:-}" in
fetch) fetch ;;
*)
	echo "usage: $0 fetch" >&2
	exit 2
	;;
esac
