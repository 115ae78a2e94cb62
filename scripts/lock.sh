#!/usr/bin/env bash
# Refresh requirements.lock, the exact versions and hashes that setup.sh installs, from the ranges
# in pyproject.toml. Run it after changing a dependency in pyproject.toml (only what changed
# moves), or with --upgrade to take new releases on purpose; then commit requirements.lock.
# Nothing else changes what gets installed: a new release of a dependency changes nothing here
# until this runs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || ./scripts/setup.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
exec .venv/bin/uv pip compile pyproject.toml scripts/build-requirements.in --extra test \
  --universal --python-version 3.11 --generate-hashes --quiet \
  --custom-compile-command ./scripts/lock.sh -o requirements.lock "$@"
