#!/usr/bin/env bash
# Puts Node 24 (from the npm registry) in .tools/ and installs the project's
# dependencies. Source-free: prints the PATH line to use afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x .tools/node_modules/.bin/node ] || ! .tools/node_modules/.bin/node --version | grep -q '^v24\.'; then
  mkdir -p .tools
  (cd .tools && npm install --no-save --no-package-lock --no-audit --no-fund node@24 >/dev/null)
fi
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
echo "node $(node --version)" >&2
npm ci --no-audit --no-fund >&2
echo "export PATH=\"$PWD/.tools/node_modules/.bin:\$PATH\""
