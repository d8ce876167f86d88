#!/usr/bin/env bash
# Puts Node 24 (from the npm registry) in .tools/ and installs the project's
# dependencies (the program's and the policy pack's); with --with-pulumi, also
# the Pulumi CLI when it is missing.
# Prints the PATH line to apply afterwards: eval "$(bash scripts/setup.sh)".
set -euo pipefail
# On failure print `false`, so that `eval "$(bash scripts/setup.sh)" && …` stops too.
trap 'status=$?; [ "$status" -eq 0 ] || { echo "setup failed (exit $status)" >&2; echo false; }' EXIT
cd "$(dirname "$0")/.."
tools="$PWD/.tools"
if ! [ -x "$tools/node_modules/.bin/node" ] || ! "$tools/node_modules/.bin/node" --version | grep -q '^v24\.'; then
  # --prefix: without it npm would install into the repo's own package.
  npm install --prefix "$tools" --no-save --no-package-lock --no-audit --no-fund node@24 >&2
fi
path="$tools/node_modules/.bin"
export PATH="$path:$PATH"
case "$(node --version)" in
  v24.*) echo "node $(node --version)" >&2 ;;
  *) echo "setup: Node 24 did not install into $tools (got $(node --version)); @pulumi/pulumi needs Node >= 22" >&2; exit 1 ;;
esac
npm ci --no-audit --no-fund >&2
# The policy pack is its own package: `pulumi preview --policy-pack policy` and the e2e load it from there.
(cd policy && npm ci --no-audit --no-fund >&2)
if [ "${1:-}" = --with-pulumi ]; then
  if [ -x "$tools/pulumi/bin/pulumi" ]; then
    # Installed by an earlier run; a new shell just needs it on PATH again.
    path="$path:$tools/pulumi/bin"
  elif ! command -v pulumi >/dev/null; then
    # Pulumi's official installer; it needs internet access to get.pulumi.com.
    curl -fsSL https://get.pulumi.com | sh -s -- --install-root "$tools/pulumi" --no-edit-path >&2
    path="$path:$tools/pulumi/bin"
  fi
fi
echo "export PATH=\"$path:\$PATH\""
