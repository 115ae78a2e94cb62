#!/usr/bin/env bash
# Idempotent set-up: a virtualenv in .venv with the exact locked Python packages
# (requirements.lock, refreshed only on purpose by scripts/lock.sh) and this package, and the
# TypeScript client's node_modules (package-lock.json, npm ci) and build. Needs only
# Python >= 3.11 and Node >= 20. Prints one line per step it takes.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
say() { printf 'setup: %s\n' "$*"; }

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
  py=$(pick_python)
  say "creating the virtualenv .venv ($("$py" --version 2>&1), $(command -v "$py"))"
  "$py" -m venv .venv
fi

# Reinstall only when the lock or the package's metadata changed since the last install.
stamp=.venv/.installed-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  pip=(.venv/bin/python -m pip --disable-pip-version-check --quiet)
  say "installing $(grep -cE '^[A-Za-z0-9][^ ]*==' requirements.lock) locked Python packages (requirements.lock)"
  "${pip[@]}" install --require-hashes --no-deps -r requirements.lock
  say "installing the bridge package from this folder (editable)"
  "${pip[@]}" install --no-deps --no-build-isolation -e . 2> >(grep -v -e BuildBackendWarning -e '^ *!!' -e '^ *\*\*\*' \
    -e 'Editable installation' -e 'Please be careful' -e 'name as your package' -e 'with strategy, WheelFile' -e '^ *$' >&2 || true)
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The UI's browser tests (tests/ui/test_browser.py) drive Debian's Chromium; they fail, not skip,
# without it. Install it when missing and we may (root, or passwordless sudo); else say what to do.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    say "installing Debian's chromium for the UI browser tests (apt-get install chromium)"
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
    lockstamp=node_modules/.installed-$(cat package.json package-lock.json | sha256sum | cut -c1-16)
    if [ ! -f "$lockstamp" ]; then
      say "installing the TypeScript client's locked npm packages (ts-client/package-lock.json)"
      npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null
      touch "$lockstamp"
    fi
    say "building the TypeScript client (ts-client/dist)"
    npm run --silent build
  )
fi
say "ready in $((SECONDS - started)) s"
