#!/usr/bin/env bash
# Idempotent set-up: a virtualenv in .venv with the package and its test extras, and the
# TypeScript client's node_modules and build. Needs only Python >= 3.11 and Node >= 20.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for p in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$p" ] || continue
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  echo "setup: need Python >= 3.11 on PATH (or PYTHON=/path/to/python)" >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi

# Reinstall only when pyproject.toml changed since the last successful install.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The UI's browser tests (tests/ui/test_browser.py) drive Debian's Chromium; they fail, not skip,
# without it. Install it when missing and we may (root, or passwordless sudo); else say what to do.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    echo "setup: installing Debian's chromium for the UI browser tests (apt-get)"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing: install Debian's chromium package (apt-get install chromium) for the UI browser tests" >&2
  fi
fi

if [ -f ts-client/package.json ]; then
  command -v node >/dev/null 2>&1 || { echo "setup: need Node >= 20 on PATH" >&2; exit 1; }
  (
    cd ts-client
    lockstamp=node_modules/.installed-$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
    if [ ! -f "$lockstamp" ]; then
      if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
      touch "$lockstamp"
    fi
    npm run --silent build
  )
fi
