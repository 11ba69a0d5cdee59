#!/usr/bin/env bash
# Installs the browser tests' npm packages (playwright-core, axe-core, pinned by tests/browser/package-lock.json)
# into tests/browser/node_modules; does nothing when the lock file has not changed since the last run.
# The browser itself is Debian's chromium (scripts/install-deps.sh): playwright-core downloads nothing.
set -euo pipefail
cd "$(dirname "$0")/../tests/browser"
lock=package-lock.json
stamp=node_modules/.package-lock.sha256
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && [ -d node_modules/playwright-core ] && [ -d node_modules/axe-core ]; then
  exit 0
fi
echo "Installing the browser tests' npm packages into tests/browser/node_modules"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
