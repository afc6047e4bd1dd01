#!/usr/bin/env bash
# Creates .venv with ambience installed, on a fresh Debian with Python 3.11.
#   scripts/bootstrap.sh          for `ambience demo`: Python packages, and Mosquitto (with mosquitto_pub) if it can be
#                                 installed (the demo falls back to an embedded broker without it)
#   scripts/bootstrap.sh --test   also the test tools, Mosquitto, Chromium and VictoriaMetrics (the tests run the
#                                 real things)
# Debian packages are installed only when missing, with sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

apt_install() {
  echo "bootstrap: installing Debian packages: $*" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

have_mosquitto() { { [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null; } && command -v mosquitto_pub >/dev/null; }

python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
if [ "$want_test" = 1 ]; then
  # The tests run the real things: Mosquitto, and Debian's Chromium for the dashboard's browser tests.
  missing=()
  have_mosquitto || missing+=(mosquitto mosquitto-clients)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
  command -v faketime >/dev/null || missing+=(faketime)  # retention under a clock that jumped
  command -v node >/dev/null || missing+=(nodejs)  # `node --test tests/js`: the dashboard's modules
  command -v npm >/dev/null || missing+=(npm)  # the real Zigbee2MQTT converters, below
  [ "${#missing[@]}" = 0 ] || apt_install "${missing[@]}"
  # Validates docker-compose.yml without a Docker engine (`docker-compose config`); not its recommended engine.
  command -v docker-compose >/dev/null || apt_install --no-install-recommends docker-compose
elif ! have_mosquitto && ! apt_install mosquitto mosquitto-clients; then
  echo "bootstrap: could not install mosquitto; the demo will use its embedded broker" >&2
fi

if [ "$want_test" = 1 ]; then
  # The converters Zigbee2MQTT itself runs, pinned: tests check our /set payloads and our copies of their device
  # definitions against them (tests/integration/test_z2m_converters.py). Only their JavaScript is used.
  zhc=.cache/zhc
  if [ ! -f "$zhc/node_modules/zigbee-herdsman-converters/package.json" ] ||
    ! grep -q '"version": "26.112.0"' "$zhc/node_modules/zigbee-herdsman-converters/package.json"; then
    mkdir -p "$zhc"
    echo "bootstrap: installing zigbee-herdsman-converters 26.112.0 into $zhc" >&2
    npm install --prefix "$zhc" --no-audit --no-fund --ignore-scripts --silent \
      zigbee-herdsman-converters@26.112.0 zigbee-herdsman@10.9.5
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
extras=""
[ "$want_test" = 1 ] && extras="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
