#!/usr/bin/env bash
# Creates .venv with ambience installed, on a fresh Debian with Python 3.11.
#   scripts/bootstrap.sh          what `ambience demo` needs (nothing beyond Python packages)
#   scripts/bootstrap.sh --test   also the test tools and the real services the tests run (Mosquitto)
# Debian packages are installed only when missing, with sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_missing+=(python3-venv)
if [ "$want_test" = 1 ]; then
  [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || apt_missing+=(mosquitto)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "bootstrap: installing Debian packages: ${apt_missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
extras=""
[ "$want_test" = 1 ] && extras="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
