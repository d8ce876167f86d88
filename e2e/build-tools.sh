#!/usr/bin/env bash
# Builds the real programs the end-to-end suite runs, from the Go module proxy.
# Each tool gets its own throwaway wrapper module, because the upstream modules
# carry `replace` directives that `go install pkg@version` refuses, and because
# one wrapper per tool keeps shared dependencies from being bumped across tools.
# Binaries are cached by version outside the repo, so a warm run builds nothing.
set -euo pipefail

KUBERNETES_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
DEX_VERSION=v2.45.1
# Dex's module path has no /v2 suffix, so its tags cannot be required directly.
DEX_PSEUDO_VERSION=v0.0.0-20260303133905-11d2eeb52b42
KUBELOGIN_VERSION=v1.36.2
# The checksum database behind this proxy has no entry for kubelogin, so its
# hashes are pinned here (first seen from the module proxy) and checked by go.sum.
KUBELOGIN_SUMS="github.com/int128/kubelogin $KUBELOGIN_VERSION h1:DgT5FydGmR90KRh7R7uKGH2hyM1ofF9GrR8BE13SeBs=
github.com/int128/kubelogin $KUBELOGIN_VERSION/go.mod h1:2hh2/t/R3gQUpVG4hJOuMiMHln09mDrf5cx7b4ZfZrQ="
ACTIONLINT_VERSION=v1.7.12

TOOLS_DIR=${PLATFORM_AUTH_TOOLS:-$HOME/.cache/platform-auth/tools}
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

log() { printf '[build-tools] %s\n' "$*" >&2; }

# wrapper NAME: a fresh module directory for one tool, echoed on stdout.
wrapper() {
  local dir="$TOOLS_DIR/src/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  printf 'module platform-auth.e2e/%s\n\ngo 1.26\n' "$1" >"$dir/go.mod"
  echo "$dir"
}

# build NAME VERSION MODULE@MODVERSION LDFLAGS OUT=PKG...: skips when cached.
build() {
  local name=$1 version=$2 require=$3 ldflags=$4; shift 4
  local out="$TOOLS_DIR/$name-$version"
  if [ -f "$out/.complete" ]; then log "$name $version cached"; return; fi
  local dir; dir=$(wrapper "$name")
  (cd "$dir" && go mod edit -require="$require")
  case $name in
    kubernetes) pin_kubernetes_staging "$dir" ;;
    kubelogin) printf '%s\n' "$KUBELOGIN_SUMS" >"$dir/go.sum"; export GONOSUMDB=github.com/int128/kubelogin ;;
  esac
  log "building $name $version (this can take minutes on a cold cache)"
  local started=$SECONDS
  mkdir -p "$out"
  for target in "$@"; do
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/${target%%=*}" "${target#*=}")
  done
  touch "$out/.complete"
  log "$name $version built in $((SECONDS - started))s"
}

# k8s.io/kubernetes requires its ~30 staging modules at v0.0.0 and points them at
# ./staging with replaces that only apply inside its own repo; pin them to the
# published v0.Y.Z tags instead, and keep upstream's godebug defaults.
pin_kubernetes_staging() {
  local dir=$1 mod staging_version="v0${KUBERNETES_VERSION#v1}"
  mod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  awk '/^[[:space:]]+k8s\.io\/[^ ]+ v0\.0\.0$/ {print $1}' "$mod" | sort -u | while read -r m; do
    (cd "$dir" && go mod edit -replace="$m=$m@$staging_version")
  done
  grep '^godebug ' "$mod" >>"$dir/go.mod" || true
}

minor_of() { local rest=${1#v*.}; echo "${rest%%.*}"; }

main() {
  mkdir -p "$TOOLS_DIR"
  local only=${1:-all}
  if [ "$only" = all ] || [ "$only" = e2e ]; then
    build etcd "$ETCD_VERSION" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "" \
      etcd=go.etcd.io/etcd/server/v3
    build dex "$DEX_VERSION" "github.com/dexidp/dex@$DEX_PSEUDO_VERSION" "-X main.version=$DEX_VERSION" \
      dex=github.com/dexidp/dex/cmd/dex
    build kubelogin "$KUBELOGIN_VERSION" "github.com/int128/kubelogin@$KUBELOGIN_VERSION" "-X main.version=$KUBELOGIN_VERSION" \
      kubectl-oidc_login=github.com/int128/kubelogin
    build kubernetes "$KUBERNETES_VERSION" "k8s.io/kubernetes@$KUBERNETES_VERSION" \
      "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(minor_of "$KUBERNETES_VERSION")" \
      kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
      kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
      kubectl=k8s.io/kubernetes/cmd/kubectl
  fi
  if [ "$only" = all ] || [ "$only" = lint ]; then
    build actionlint "$ACTIONLINT_VERSION" "github.com/rhysd/actionlint@$ACTIONLINT_VERSION" "" \
      actionlint=github.com/rhysd/actionlint/cmd/actionlint
  fi
  # Print the bin directories for PATH.
  for d in "$TOOLS_DIR"/*/; do
    if [ -f "$d/.complete" ]; then printf "%s\n" "${d%/}"; fi
  done
}

main "$@"
