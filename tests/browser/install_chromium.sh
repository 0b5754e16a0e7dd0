#!/usr/bin/env bash
# `make test` runs this before the suite: install Debian's chromium for the browser tests
# (tests/browser) when it is missing and this machine allows it (root and apt-get). It never
# fails the build: when it cannot install, it says so in one line, and the browser tests skip
# with the same reason.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || [ -n "${NUMBORS_CHROMIUM:-}" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "browser tests will not run: chromium is missing and cannot be installed here (needs root and apt-get: apt-get install chromium)"
    exit 0
fi
echo "installing chromium (Debian package) for the browser tests..."
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/numbors-chromium-install.log 2>&1; then
    echo "browser tests will not run: apt-get install chromium failed (see /tmp/numbors-chromium-install.log)"
fi
exit 0
