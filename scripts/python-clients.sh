#!/usr/bin/env bash
# Creates tests/.venv with the independent standard clients of tests/clients/requirements.txt;
# does nothing when the requirements have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=tests/.venv
req=tests/clients/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "Installing the Python test clients into $venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
