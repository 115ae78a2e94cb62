#!/usr/bin/env bash
# Set everything up, then run every test: Python (pytest, two workers) and TypeScript (node:test).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest -n 2 -q "$@"

if [ -f ts-client/package.json ]; then
  (cd ts-client && npm test --silent)
fi
