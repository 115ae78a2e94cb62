#!/usr/bin/env bash
# Set everything up, then run the main job on the embedded default lake (./lake, or $QUANTBOT_LAKE):
# the whole research flow driven from the TypeScript client (scripts/quickstart.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec node scripts/quickstart.mjs --lake "${QUANTBOT_LAKE:-lake}" "$@"
