#!/usr/bin/env bash
# Make Debian's Chromium available for the browser tests (tests/browser). Browser downloads
# (e.g. `playwright install`) do not work offline, so we use the distribution's package.
# In CI (CI=true) failing to get a browser is an error; elsewhere the tests skip and say why.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests (apt-get, about a minute)..."
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver >/dev/null; then
    exit 0
  fi
  echo "apt-get could not install chromium." >&2
else
  echo "Chromium not found and cannot install it here (needs root and apt-get):" \
       "browser tests will be skipped. Install the 'chromium' package to run them." >&2
fi
if [ "${CI:-}" = "true" ]; then
  echo "CI=true: a missing browser is a failure." >&2
  exit 1
fi
exit 0
