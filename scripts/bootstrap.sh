#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need on a fresh Debian machine: the Debian packages
# (real peers for the tests: Prometheus, Alertmanager, snmpd, nftables, fping, Chromium...) and a
# virtualenv in .venv with the project and its test extras. Idempotent: a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(prometheus prometheus-alertmanager prometheus-snmp-exporter snmpd snmp nftables iptables iproute2
      fping libnetfilter-queue-dev chromium fonts-dejavu-core tmux procps strace libfaketime poppler-utils
      chrony e2fsprogs util-linux wireguard-go)

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.bootstrap-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test,lab]'
  rm -f .venv/.bootstrap-*
  touch "$stamp"
fi
