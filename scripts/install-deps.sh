#!/usr/bin/env bash
# Installs what Vedetta needs on Debian 12 (bookworm), and nothing when it is all there.
# Used by `make demo` and `make test`; safe to run again.
set -euo pipefail

# Debian packages and why:
packages=(
  postgresql-15              # the private cluster (initdb, pg_ctl, postgres)
  postgresql-15-postgis-3    # PostGIS for it
  mosquitto                  # the external broker of the tests and of scale-out deployments
  mosquitto-clients          # mosquitto_pub/sub, used by tests and the docs
  libproj-dev                # PROJ 9.1, linked by the proj crate (proj-sys 0.23)
  libclang-dev               # bindgen, which proj-sys runs at build time
  pkg-config
  gdal-bin                   # ogr2ogr: reference for the DBT import tests and benchmarks
  libxml2-utils              # xmllint: CAP 1.2 validation
  openssl                    # makes the throwaway signing certificate of the CAP signature tests
  xmlsec1                    # verifies the XML-DSig signature of signed CAP messages in the tests
  python3-venv               # a private virtualenv for the standard clients used by tests
  chromium                   # the browser of the web-map tests (driven by playwright-core)
)
# Node.js and npm build the web app's vendored assets (MapLibre GL JS) and run the browser tests; Debian's own
# packages are used only when no Node.js is installed already.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for tool in cargo rustc; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: install the Rust toolchain (rustup)" >&2; exit 1; }
done
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done
