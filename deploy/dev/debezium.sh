#!/usr/bin/env bash
# The jars of make bench-debezium: Apache Kafka's Connect worker (connect-runtime, standalone
# mode, JsonConverter) and Debezium's PostgreSQL and MariaDB connectors, each pinned in a pom of
# deploy/dev/debezium/, fetched from Maven Central with maven's dependency plugin (as kafka.sh
# fetches the broker) and cached under $STACK_DIR/debezium. Nothing runs here: the bench starts
# the worker itself (bench/debezium.go), on the servers of the stack.
#
# usage: debezium.sh fetch    fetches what is missing, then prints the folder holding
#                             connect/ (the worker's classpath) and plugins/ (its plugin.path)
COMPONENT=debezium
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

POMS=$REPO_ROOT/deploy/dev/debezium
# The folder is named after the poms' content, so a changed pin fetches anew.
HOME_DIR=$STACK_DIR/debezium/jars-$(cat "$POMS"/connect/pom.xml "$POMS"/postgres/pom.xml "$POMS"/mariadb/pom.xml |
	sha256sum | cut -c1-12)

# copy_deps POM DIR copies the runtime jars of POM into DIR.
copy_deps() {
	mvn -B -q -f "$1" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$2" >>"$STACK_DIR/debezium/mvn.log" 2>&1 ||
		fail "fetching the jars of $1 failed; see $STACK_DIR/debezium/mvn.log"
}

fetch_jars() {
	if [ ! -f "$HOME_DIR/.complete" ]; then
		command -v java >/dev/null || apt_install openjdk-17-jre-headless
		command -v mvn >/dev/null || apt_install maven
		mkdir -p "$STACK_DIR/debezium"
		say "fetching Kafka Connect and the Debezium connectors pinned in $POMS from Maven Central into $HOME_DIR"
		local partial=$HOME_DIR.partial
		rm -rf "$partial"
		: >"$STACK_DIR/debezium/mvn.log"
		copy_deps "$POMS/connect/pom.xml" "$partial/connect"
		# One folder per plugin: Connect gives each its own class loader.
		copy_deps "$POMS/postgres/pom.xml" "$partial/plugins/debezium-postgres"
		copy_deps "$POMS/mariadb/pom.xml" "$partial/plugins/debezium-mariadb"
		touch "$partial/.complete"
		rm -rf "$HOME_DIR"
		mv "$partial" "$HOME_DIR"
	fi
}

# fetch prints only the folder on stdout (the Makefile reads it); everything else goes to stderr.
fetch() {
	fetch_jars >&2
	echo "$HOME_DIR"
}

case "${1:-}" in
fetch) fetch ;;
*)
	echo "usage: $0 fetch" >&2
	exit 2
	;;
esac
