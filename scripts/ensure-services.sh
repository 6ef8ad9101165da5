#!/usr/bin/env bash
# Installs the system services the test suite talks to, when this machine lacks them.
# They come from Debian packages and are started by the tests themselves on free ports
# with temporary data directories; nothing is left running as a system service.
set -euo pipefail

need=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
# mosquitto_pub/mosquitto_sub (the security tests' attackers and TLS clients) and openssl (their certificates).
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/bin/influxd ] || command -v influxd >/dev/null 2>&1 || need+=(influxdb)
[ -x /usr/bin/radicale ] || command -v radicale >/dev/null 2>&1 || need+=(radicale)
# Headless Chromium for the web pages' browser tests (driven by playwright-core, never a downloaded browser),
# and a small CJK font so the zh-CN pages render as text, not boxes, in their screenshots.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
# The Modbus tests' independent peer: a small libmodbus server in C (controller/test/peers/libmodbus-peer.c)
# built by the test with gcc, and socat for the pseudo-terminal pair RTU runs over.
[ -e /usr/include/modbus/modbus.h ] || need+=(libmodbus-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v socat >/dev/null 2>&1 || need+=(socat)

if [ ${#need[@]} -eq 0 ]; then
  echo "ensure-services: mosquitto (and its clients), openssl, influxdb, radicale, chromium, libmodbus-dev, gcc and socat present"
  exit 0
fi

echo "ensure-services: installing ${need[*]} from Debian packages (the tests start them on free ports)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-services: not root and no sudo; install these packages and run again: ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# --no-install-recommends keeps it small; policy-rc.d-less containers may print a
# warning that the service could not be started, which is fine: the tests start it.
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
# Debian's postinst may start a system-wide mosquitto on 1883; the demo's embedded
# broker wants that port, so stop it if it was started.
if pgrep -x mosquitto >/dev/null 2>&1 && [ -f /etc/mosquitto/mosquitto.conf ]; then
  (command -v service >/dev/null 2>&1 && $SUDO service mosquitto stop) >/dev/null 2>&1 || true
fi
