#!/usr/bin/env bash
# The tools of the deployment tests (deploy/*_test.go, integration/image_test.go), installed when
# missing:
#   - buildah (Debian), which builds deploy/Containerfile offline;
#   - systemd-analyze (Debian's systemd), which verifies deploy/systemd/cdcd.service;
#   - helm, built from the Go module proxy at a pinned version into $STACK_DIR/bin/helm, where
#     the tests look for it (CDCD_HELM overrides).
#
# usage: tools.sh up       install what is missing (stack.sh up runs it)
#        tools.sh helm     print the path of helm, building it first when missing
COMPONENT=tools
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# HELM_MODULE and HELM_VERSION pin the helm the tests use (docs/deployment.md).
HELM_MODULE=helm.sh/helm/v4
HELM_VERSION=v4.3.2
HELM_BIN=$STACK_DIR/bin/helm

# helm_current tells whether $HELM_BIN is the pinned version, from the module versions the Go
# linker recorded in it.
helm_current() {
	[ -x "$HELM_BIN" ] && go version -m "$HELM_BIN" 2>/dev/null |
		awk -v m="$HELM_MODULE" -v v="$HELM_VERSION" '$1 == "mod" && $2 == m && $3 == v { ok = 1 } END { exit !ok }'
}

install_helm() {
	helm_current && return 0
	command -v go >/dev/null || fail "go is needed to build helm $HELM_VERSION"
	mkdir -p "$STACK_DIR/bin"
	say "building helm $HELM_VERSION from the Go module proxy into $STACK_DIR/bin (once)"
	GOBIN=$STACK_DIR/bin GOFLAGS=-buildvcs=false go install "$HELM_MODULE/cmd/helm@$HELM_VERSION" \
		>"$STACK_DIR/helm-build.log" 2>&1 || fail "go install $HELM_MODULE/cmd/helm@$HELM_VERSION failed; see $STACK_DIR/helm-build.log"
	helm_current || fail "$HELM_BIN is not $HELM_MODULE $HELM_VERSION after go install"
}

up() {
	mkdir -p "$STACK_DIR"
	local want=()
	command -v buildah >/dev/null || want+=(buildah)
	command -v systemd-analyze >/dev/null || want+=(systemd)
	[ ${#want[@]} -eq 0 ] || apt_install "${want[@]}"
	install_helm
}

case "${1:-}" in
up) up ;;
helm)
	mkdir -p "$STACK_DIR"
	install_helm >&2
	echo "$HELM_BIN"
	;;
*)
	echo "usage: $0 up|helm" >&2
	exit 2
	;;
esac
