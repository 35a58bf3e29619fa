#!/usr/bin/env bash
# Runs a command with a WebDriver for the browser tests of the customer page
# (tests/suite/api/manage_page.rs):
#
#   scripts/test-browser.sh cargo test -p booking-tests --test suite -- api::manage_page
#
# When CHROMEDRIVER is already set (the path of a chromedriver whose
# Chromium is installed), the command just runs. Otherwise this script makes
# sure Debian's `chromium` and `chromium-driver` are installed (apt-get when
# missing, as scripts/test-postgres.sh does for PostgreSQL) and exports
#
#   CHROMEDRIVER=/usr/bin/chromedriver
#
# The tests start chromedriver themselves on a free 127.0.0.1 port and drive
# headless Chromium over plain WebDriver HTTP. It also exports
# BOOKING_REQUIRE_BROWSER=1: the browser tests then fail, rather than being
# skipped, when they find no driver (as they do under CI=true).
set -euo pipefail

export BOOKING_REQUIRE_BROWSER=1

if [ -n "${CHROMEDRIVER:-}" ]; then
  exec "$@"
fi

find_driver() {
  local candidate
  for candidate in /usr/bin/chromedriver /usr/lib/chromium/chromedriver; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  command -v chromedriver
}

driver=$(find_driver || true)
if [ -z "$driver" ] || ! command -v chromium >/dev/null 2>&1; then
  echo "test-browser: Chromium or its WebDriver not found; installing chromium and chromium-driver with apt-get" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  driver=$(find_driver) || {
    echo "test-browser: chromedriver is still missing after apt-get install chromium-driver" >&2
    exit 1
  }
fi

export CHROMEDRIVER="$driver"
exec "$@"
