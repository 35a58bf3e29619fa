#!/usr/bin/env bash
# Runs a command with BOOKING_TEST_CALDAV_PYTHON pointing at a Python that has
# Radicale (a real CalDAV server) and the `caldav` client library, for the
# CalDAV e2e tests (tests/suite/api/caldav.rs start and stop Radicale
# themselves, on 127.0.0.1, with a temporary storage folder).
#
#   scripts/test-caldav.sh cargo test -p booking-tests --test suite -- api::caldav
#
# When BOOKING_TEST_CALDAV_PYTHON is already set, the command just runs.
# Otherwise this script keeps a virtual environment with the pinned versions
# below in ~/.cache/booking-api (or $BOOKING_CALDAV_VENV), creating it and
# installing them from PyPI with pip when missing (python3-venv with apt-get on
# Debian when Python lacks venv). It also exports BOOKING_REQUIRE_CALDAV=1:
# the CalDAV tests then fail, rather than being ignored, without Radicale
# (tests/build.rs), as they do whenever CI is set.
set -euo pipefail

RADICALE_VERSION=3.5.10
CALDAV_VERSION=1.4.0

export BOOKING_REQUIRE_CALDAV=1

if [ -n "${BOOKING_TEST_CALDAV_PYTHON:-}" ]; then
  exec "$@"
fi

die() {
  echo "test-caldav: $*" >&2
  exit 1
}

venv=${BOOKING_CALDAV_VENV:-$HOME/.cache/booking-api/caldav-$RADICALE_VERSION-$CALDAV_VERSION}
python="$venv/bin/python"
if ! "$python" -c "import radicale, caldav" >/dev/null 2>&1; then
  command -v python3 >/dev/null || die "python3 is missing"
  if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "test-caldav: installing python3-venv with apt-get" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "test-caldav: installing radicale $RADICALE_VERSION and caldav $CALDAV_VERSION in $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" || die "cannot create the virtual environment $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "radicale==$RADICALE_VERSION" "caldav==$CALDAV_VERSION" ||
    die "pip could not install radicale and caldav"
  "$python" -c "import radicale, caldav" || die "radicale or caldav still missing in $venv"
fi

export BOOKING_TEST_CALDAV_PYTHON="$python"
exec "$@"
