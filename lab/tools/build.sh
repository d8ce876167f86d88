#!/usr/bin/env bash
# Builds the real programs the end-to-end suite runs, from the Go module proxy
# (and, for the few sources the proxy refuses, from a writable copy of
# ../shared/third_party). Each tool gets its own throwaway wrapper module,
# because upstream modules carry `replace` directives that `go install pkg@v`
# refuses, and one wrapper per tool keeps shared dependencies from being bumped
# across tools. Binaries are cached by version outside the repo, so a warm run
# builds nothing. Usage: build.sh [GROUP]: control (the loopback cluster),
# engine (Pulumi and its kubernetes, github and command plugins, kwok, CRDs), talos, lint; e2e is the first
# three, all is every group. Prints the bin directories for PATH.
set -euo pipefail
# The prepare steps run inside $(...); without this, a failure there would go unnoticed.
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

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
PULUMI_VERSION=v3.274.1
# The only pulumi-kubernetes provider module the proxy serves (between 4.24 and 4.25).
KUBERNETES_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199
KUBERNETES_PROVIDER_VERSION=4.25.0-alpha.f47bc2d
GITHUB_PROVIDER_VERSION=6.15.0
COMMAND_PROVIDER_VERSION=1.2.1
KWOK_VERSION=v0.8.0
GATEWAY_API_VERSION=v1.6.3
# Talos's config library per Talos minor, at the released tags the program supports.
TALOS_MACHINERY_VERSIONS="1.13=v1.13.9 1.14=v1.14.1"
# v1.14.1's go.mod asks for two versions the module proxy does not serve; the
# nearest it does, per module (MODULE=REPLACEMENT@VERSION).
TALOS_1_14_PINS="github.com/cosi-project/runtime=github.com/cosi-project/runtime@v1.16.2 github.com/jsimonetti/rtnetlink/v2=github.com/jsimonetti/rtnetlink/v2@v2.3.0"

TOOLS_DIR=${PLATFORM_AUTH_TOOLS:-$HOME/.cache/platform-auth/tools}
THIRD_PARTY=${PLATFORM_AUTH_THIRD_PARTY:-$repo/../shared/third_party}
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local GONOSUMDB=github.com/int128/kubelogin

log() { printf '[build-tools] %s\n' "$*" >&2; }

# Progress: main runs once counting the tools it would build (COUNTING=1),
# then for real, numbering each and saying how many remain and the time so far.
STEP=0 TOTAL=0
next_tool() {
  if [ -n "${COUNTING:-}" ]; then TOTAL=$((TOTAL + 1)); return 1; fi
  STEP=$((STEP + 1))
}
progress() { printf '(%d/%d, %ds so far, %d to go after this)' "$STEP" "$TOTAL" "$SECONDS" "$((TOTAL - STEP))"; }

# wrapper NAME [MODULE]: a fresh module directory for one tool, echoed on stdout.
wrapper() {
  local dir="$TOOLS_DIR/src/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  printf 'module %s\n\ngo 1.26\n' "${2:-platform-auth.e2e/$1}" >"$dir/go.mod"
  echo "$dir"
}

# module_dir MODULE@VERSION (run inside a wrapper): where the proxy's copy lives.
module_dir() { go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'; }

# copy_writable SRC DEST: module cache and shared/ are read-only; builds write.
copy_writable() { rm -rf "$2" && mkdir -p "$(dirname "$2")" && cp -r "$1" "$2" && chmod -R u+w "$2"; }

# build NAME VERSION PREPARE LDFLAGS OUT=PKG...: PREPARE NAME DIR readies the
# source and echoes the directory to build in. Each binary is cached by itself,
# so adding a target to a tool builds only that target.
build() {
  local name=$1 version=$2 prepare=$3 ldflags=$4; shift 4
  local out="$TOOLS_DIR/$name-$version" missing=() target
  next_tool || return 0
  BUILT+=("$out")
  for target in "$@"; do [ -x "$out/${target%%=*}" ] || missing+=("$target"); done
  if [ ${#missing[@]} -eq 0 ]; then touch "$out/.complete"; log "$name $version cached $(progress)"; return; fi
  log "building $name $version: ${missing[*]%%=*} $(progress); this can take minutes on a cold cache"
  local started=$SECONDS dir
  dir=$("$prepare" "$name" "$version")
  mkdir -p "$out"
  for target in "${missing[@]}"; do
    (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/${target%%=*}" "${target#*=}")
  done
  touch "$out/.complete"
  log "$name $version built in $((SECONDS - started))s"
}

# Each prepare_* function gets NAME VERSION and echoes the build directory.
prepare_etcd() { local d; d=$(wrapper "$1"); (cd "$d" && go mod edit -require="go.etcd.io/etcd/server/v3@$2"); echo "$d"; }
prepare_dex() { local d; d=$(wrapper "$1"); (cd "$d" && go mod edit -require="github.com/dexidp/dex@$DEX_PSEUDO_VERSION"); echo "$d"; }
prepare_actionlint() { local d; d=$(wrapper "$1"); (cd "$d" && go mod edit -require="github.com/rhysd/actionlint@$2"); echo "$d"; }
prepare_kwok() { local d; d=$(wrapper "$1"); (cd "$d" && go mod edit -require="sigs.k8s.io/kwok@$2"); echo "$d"; }
prepare_kubelogin() {
  local d; d=$(wrapper "$1")
  (cd "$d" && go mod edit -require="github.com/int128/kubelogin@$2")
  printf '%s\n' "$KUBELOGIN_SUMS" >"$d/go.sum"
  echo "$d"
}

# k8s.io/kubernetes requires its ~30 staging modules at v0.0.0 and points them at
# ./staging with replaces that only apply inside its own repo; pin them to the
# published v0.Y.Z tags instead, and keep upstream's godebug defaults.
prepare_kubernetes() {
  local d mod staging_version="v0${2#v1}"; d=$(wrapper "$1")
  (cd "$d" && go mod edit -require="k8s.io/kubernetes@$2")
  mod=$(cd "$d" && go mod download -json "k8s.io/kubernetes@$2" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  awk '/^[[:space:]]+k8s\.io\/[^ ]+ v0\.0\.0$/ {print $1}' "$mod" | sort -u | while read -r m; do
    (cd "$d" && go mod edit -replace="$m=$m@$staging_version")
  done
  grep '^godebug ' "$mod" >>"$d/go.mod" || true
  echo "$d"
}

# The CLI and its Node.js language host share pkg/sdk at one version, plus the
# clipboard replace from upstream's go.mod (its ../sdk replace is dropped).
pin_pulumi() {
  (cd "$1" && go mod edit -require="github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" \
    -require="github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" \
    -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e)
}
prepare_pulumi() { local d; d=$(wrapper "$1"); pin_pulumi "$d"; echo "$d"; }
prepare_pulumi-language-nodejs() {
  local d; d=$(wrapper "$1" github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3)
  cp "$THIRD_PARTY/pulumi-language-nodejs/"*.go "$d/"
  pin_pulumi "$d"
  echo "$d"
}

# The provider zips lack their embedded schema; upstream's generate.go writes it.
prepare_pulumi-resource-kubernetes() {
  local d src; d=$(wrapper "$1")
  (cd "$d" && go mod edit -require="$KUBERNETES_PROVIDER_MODULE")
  src=$(cd "$d" && module_dir "$KUBERNETES_PROVIDER_MODULE")
  copy_writable "$src/cmd/pulumi-resource-kubernetes" "$d/cmd/pulumi-resource-kubernetes"
  (cd "$d/cmd/pulumi-resource-kubernetes" && VERSION=$2 go run generate.go >&2)
  echo "$d"
}
prepare_pulumi-resource-github() {
  local d="$TOOLS_DIR/src/pulumi-github"
  copy_writable "$THIRD_PARTY/pulumi-github" "$d"
  (cd "$d/provider/cmd/pulumi-resource-github" && VERSION=$2 go run generate.go >&2)
  echo "$d/provider"
}

prepare_pulumi-resource-command() {
  local d="$TOOLS_DIR/src/pulumi-command"
  copy_writable "$THIRD_PARTY/pulumi-command" "$d"
  echo "$d/provider"
}

# talos-patch NAME VERSION: the repo's own Talos check (talos/machinery), built
# against Talos's config library at the version of one Talos minor. Cached by
# the source's digest too, so an edit rebuilds it.
prepare_talos-patch() {
  local d; d=$(wrapper "$1-$2")
  cp "$repo/talos/machinery/main.go" "$d/"
  (cd "$d" && go mod edit -require="github.com/siderolabs/talos/pkg/machinery@${2%%-src*}")
  local pin
  case $2 in v1.14.*) for pin in $TALOS_1_14_PINS; do (cd "$d" && go mod edit -replace="$pin"); done ;; esac
  echo "$d"
}

# fetch_files NAME VERSION MODULE@V SUBDIR...: files (not a build) from a
# module, e.g. CRDs and kwok's stage definitions.
fetch_files() {
  local name=$1 version=$2 module=$3; shift 3
  local out="$TOOLS_DIR/$name-$version" d src sub
  next_tool || return 0
  BUILT+=("$out")
  if [ -f "$out/.complete" ]; then log "$name $version cached $(progress)"; return; fi
  log "fetching $name $version $(progress)"
  d=$(wrapper "$name"); src=$(cd "$d" && go mod edit -require="$module" && module_dir "$module")
  mkdir -p "$out"
  for sub in "$@"; do cp "$src/$sub" "$out/"; done
  chmod -R u+w "$out"
  touch "$out/.complete"
}

BUILT=()
main() {
  mkdir -p "$TOOLS_DIR"
  local only=${1:-all}
  wants() { [ "$only" = all ] || [ "$only" = "$1" ] || { [ "$only" = e2e ] && [ "$1" != lint ]; }; }
  if wants control; then
    build etcd "$ETCD_VERSION" prepare_etcd "" etcd=go.etcd.io/etcd/server/v3
    build dex "$DEX_VERSION" prepare_dex "-X main.version=$DEX_VERSION" dex=github.com/dexidp/dex/cmd/dex
    build kubelogin "$KUBELOGIN_VERSION" prepare_kubelogin "-X main.version=$KUBELOGIN_VERSION" \
      kubectl-oidc_login=github.com/int128/kubelogin
    local minor=${KUBERNETES_VERSION#v*.}
    build kubernetes "$KUBERNETES_VERSION" prepare_kubernetes \
      "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
      kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
      kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
      kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
      kubectl=k8s.io/kubernetes/cmd/kubectl
  fi
  if wants engine; then
    local sdk=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION
    build pulumi "$PULUMI_VERSION" prepare_pulumi "-X $sdk" pulumi=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    build pulumi-language-nodejs "$PULUMI_VERSION" prepare_pulumi-language-nodejs "-X $sdk" pulumi-language-nodejs=.
    build pulumi-resource-kubernetes "$KUBERNETES_PROVIDER_VERSION" prepare_pulumi-resource-kubernetes \
      "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION" \
      pulumi-resource-kubernetes=./cmd/pulumi-resource-kubernetes
    build pulumi-resource-github "$GITHUB_PROVIDER_VERSION" prepare_pulumi-resource-github \
      "-X github.com/pulumi/pulumi-github/provider/v6/pkg/version.Version=$GITHUB_PROVIDER_VERSION" \
      pulumi-resource-github=./cmd/pulumi-resource-github
    build pulumi-resource-command "$COMMAND_PROVIDER_VERSION" prepare_pulumi-resource-command \
      "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_PROVIDER_VERSION" \
      pulumi-resource-command=./cmd/pulumi-resource-command
    build kwok "$KWOK_VERSION" prepare_kwok "" kwok=sigs.k8s.io/kwok/cmd/kwok
    fetch_files kwok-stages "$KWOK_VERSION" "sigs.k8s.io/kwok@$KWOK_VERSION" \
      kustomize/stage/node/fast/node-initialize.yaml kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      kustomize/stage/pod/fast/pod-ready.yaml kustomize/stage/pod/fast/pod-complete.yaml kustomize/stage/pod/fast/pod-delete.yaml
    fetch_files gateway-api-crds "$GATEWAY_API_VERSION" "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
      config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml config/crd/standard/gateway.networking.k8s.io_gateways.yaml \
      config/crd/standard/gateway.networking.k8s.io_httproutes.yaml
  fi
  if wants talos; then
    local pair digest stale
    digest=$(sha256sum "$repo/talos/machinery/main.go" | cut -c1-12)
    for pair in $TALOS_MACHINERY_VERSIONS; do
      build talos-patch "${pair#*=}-src$digest" prepare_talos-patch "" "talos-patch-${pair%%=*}=."
    done
    # Builds of an older source would be listed below too; one per minor is wanted.
    [ -n "${COUNTING:-}" ] || for stale in "$TOOLS_DIR"/talos-patch-* "$TOOLS_DIR"/src/talos-patch-*; do
      case $stale in *"-src$digest") ;; *) rm -rf "$stale" ;; esac
    done
  fi
  if wants lint; then
    build actionlint "$ACTIONLINT_VERSION" prepare_actionlint "" actionlint=github.com/rhysd/actionlint/cmd/actionlint
  fi
  # Print this version's bin directories for PATH (not those an older version left in the cache).
  [ -n "${COUNTING:-}" ] || printf "%s\n" "${BUILT[@]}" | sort -u
}

COUNTING=1 main "$@"
main "$@"
