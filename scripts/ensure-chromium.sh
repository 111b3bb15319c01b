#!/usr/bin/env bash
# Install Chromium for the browser tests (tests/browser) when it is missing.
# Debian/Ubuntu only; needs root or sudo. Elsewhere it only says what to do: the browser
# tests are skipped, with a reason, when /usr/bin/chromium is absent. Under CI=true nothing
# may be skipped: if Chromium cannot be installed this script fails, and so would the tests.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
case "${CI:-}" in
    true|TRUE|True|1|yes) status=1 ;;  # CI: a browser that cannot be installed is an error
    *) status=0 ;;
esac
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: no apt-get here; install Chromium as $CHROMIUM to run the browser tests" >&2
    exit "$status"
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "ensure-chromium: run as root (or install sudo) to install Chromium" >&2
        exit "$status"
    fi
    SUDO=(sudo)
fi
echo "ensure-chromium: installing Chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version
