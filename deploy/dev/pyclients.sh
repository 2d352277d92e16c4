#!/usr/bin/env bash
# A Python virtualenv with Confluent's own client (confluent-kafka, its SchemaRegistryClient and
# AvroDeserializer and JSONDeserializer), every package pinned in deploy/dev/pyclients/requirements.txt, installed
# from PyPI with pip into $CDCD_PYCLIENTS_DIR (default: $CDCD_CACHE_DIR, i.e. ~/.cache/cdcd,
# /pyclients-<hash of the requirements>, so a changed pin installs anew). Nothing runs here: a
# test runs "<folder>/bin/python" on its own script (integration/foreign_confluent_test.go).
#
# usage: pyclients.sh fetch    installs what is missing, then prints the virtualenv's folder
COMPONENT=pyclients
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REQUIREMENTS=$REPO_ROOT/deploy/dev/pyclients/requirements.txt
CACHE_DIR=${CDCD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cdcd}
VENV=${CDCD_PYCLIENTS_DIR:-$CACHE_DIR/pyclients-$(sha256sum "$REQUIREMENTS" | cut -c1-12)}

fetch() {
	if [ ! -f "$VENV/.complete" ]; then
		command -v python3 >/dev/null || apt_install python3
		# Debian's python3 has no venv (nor ensurepip) without python3-venv.
		python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
		mkdir -p "$(dirname "$VENV")"
		say "installing the Python clients pinned in $REQUIREMENTS from PyPI into $VENV" >&2
		local partial=$VENV.partial.$$ log=$VENV.log
		rm -rf "$partial"
		# The virtualenv is made beside its folder and moved there once complete: its python finds
		# its packages relative to itself, so the move keeps it whole (only the first lines of its
		# bin/pip scripts name the old folder: use "bin/python -m pip").
		{ python3 -m venv "$partial" &&
			"$partial/bin/python" -m pip install --disable-pip-version-check --no-input -q \
				--require-virtualenv -r "$REQUIREMENTS"; } >"$log" 2>&1 ||
			fail "installing the Python clients failed; see $log"
		touch "$partial/.complete"
		# Two installs at once (tests in parallel): the first to finish wins, the other's copy goes.
		if [ -f "$VENV/.complete" ]; then
			rm -rf "$partial"
		else
			rm -rf "$VENV"
			mv "$partial" "$VENV"
		fi
	fi
	printf '%s\n' "$VENV"
}

case "${1:-}" in
fetch) fetch ;;
*)
	echo "usage: $0 fetch" >&2
	exit 2
	;;
esac
