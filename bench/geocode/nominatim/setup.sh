#!/usr/bin/env bash
# Installs the peer of the geocoder benchmark: Nominatim 5.3 (nominatim-db + nominatim-api from PyPI, in a private
# virtualenv) and osm2pgsql (Debian). Does nothing when it is all there. Prints the venv's directory last.
#
#   bench/geocode/nominatim/setup.sh            # venv in bench/out/nominatim-venv
#   NOMINATIM_VENV=/some/dir bench/geocode/nominatim/setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${NOMINATIM_VENV:-$repo/bench/out/nominatim-venv}"
req="$here/requirements.txt"

# Debian: osm2pgsql (1.8 in bookworm, what Nominatim 5 needs at least); PyICU builds against libicu-dev with g++;
# python3-venv for the virtualenv.
packages=(osm2pgsql libicu-dev pkg-config g++ python3-dev python3-venv)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing (apt): ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if ! { [ -x "$venv/bin/nominatim" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }; then
  echo "Installing Nominatim into $venv (pip)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$venv"
