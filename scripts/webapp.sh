#!/usr/bin/env bash
# Vendors the web app's browser library — MapLibre GL JS, pinned in webapp/package-lock.json — into
# webmap/assets/vendor/, which webmap/build.rs embeds in the binary (nothing is fetched from a CDN at run time).
# Run by `make deps`; a no-op when the vendored files match the lock file. npm's cache makes reruns work offline.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
app="$root/webapp"
vendor="$root/webmap/assets/vendor"
dist="$app/node_modules/maplibre-gl/dist"
files=(maplibre-gl.mjs maplibre-gl-worker.mjs maplibre-gl.css)
stamp="$vendor/.lock-sha256"

want="$(sha256sum "$app/package-lock.json" | cut -d' ' -f1)"
up_to_date=true
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || up_to_date=false
for f in "${files[@]}"; do [ -s "$vendor/$f" ] || up_to_date=false; done
if $up_to_date; then
  exit 0
fi

command -v npm >/dev/null || { echo "npm is missing: run scripts/install-deps.sh" >&2; exit 1; }
echo "Vendoring MapLibre GL JS ($(sed -n 's/.*"maplibre-gl": "\(.*\)".*/\1/p' "$app/package.json")) into webmap/assets/vendor"
(cd "$app" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)

mkdir -p "$vendor"
for f in "${files[@]}"; do
  # The source maps are not shipped: drop the comment that would make browsers' developer tools ask for them.
  sed '/^\/\/# sourceMappingURL=/d' "$dist/$f" >"$vendor/$f.tmp"
  mv "$vendor/$f.tmp" "$vendor/$f"
done
echo "$want" >"$stamp"
