#!/bin/sh
# Install the netmon edge agent on a Debian box at a service center, in one command (as root, from a
# checkout of this repository):
#
#   scripts/install-agent.sh SITE CENTRAL_URL CENTRAL_CA [INVENTORY]
#   e.g. scripts/install-agent.sh muong-lan https://netmon.sonla.gov.vn:9814 central-ca.pem
#
# It creates the user netmon-agent, a virtualenv in /opt/netmon-agent, /etc/netmon/agent.yaml with a
# fresh credential (0600, owned by the agent) and the systemd unit, starts the service and prints the
# line to add to the central agents file. Run again, it keeps the existing credential and buffer.
# NETMON_AGENT_ROOT installs under another root (staging, tests) and then neither creates the user nor
# touches systemd; NETMON_AGENT_VENV reuses an existing virtualenv instead of building one.
set -eu

if [ $# -lt 3 ]; then
    echo "usage: $0 SITE CENTRAL_URL CENTRAL_CA [INVENTORY]" >&2
    echo "cách dùng: $0 MÃ_TRUNG_TÂM URL_TRUNG_TÂM_TỈNH CA_TRUNG_TÂM [TỆP_DANH_MỤC]" >&2
    exit 2
fi
site=$1 central=$2 ca=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
inventory=${4:-$repo/config/communes.yaml}
root=${NETMON_AGENT_ROOT:-}
etc=$root/etc/netmon
state=$root/var/lib/netmon-agent
venv=${NETMON_AGENT_VENV:-$root/opt/netmon-agent/venv}

for f in "$ca" "$inventory"; do
    [ -r "$f" ] || { echo "$0: cannot read $f / không đọc được $f" >&2; exit 1; }
done
if [ -z "$root" ]; then
    [ "$(id -u)" = 0 ] || { echo "$0: run as root / cần chạy với quyền root" >&2; exit 1; }
    id netmon-agent >/dev/null 2>&1 || useradd --system --home-dir /var/lib/netmon-agent \
        --no-create-home --shell /usr/sbin/nologin netmon-agent
fi
if [ ! -x "$venv/bin/netmon" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "$repo"
fi

install -d -m 0755 "$etc" "$root/opt/netmon-agent/docs"
install -d -m 0700 "$state"
install -m 0644 "$inventory" "$etc/communes.yaml"
install -m 0644 "$ca" "$etc/central-ca.pem"
install -m 0644 "$repo/docs/agent.md" "$root/opt/netmon-agent/docs/agent.md"
entry=""
if [ ! -e "$etc/agent.token" ]; then
    entry=$("$venv/bin/netmon" agent credential --id "$site" --site "$site" --out "$etc/agent.token" | tail -n 1)
fi
cat > "$etc/agent.yaml" <<YAML
# netmon edge agent (docs/agent.md). Written by scripts/install-agent.sh.
site: $site
inventory: /etc/netmon/communes.yaml
central: $central
credential_file: /etc/netmon/agent.token
ca_file: /etc/netmon/central-ca.pem
buffer: /var/lib/netmon-agent/buffer.db
YAML
install -D -m 0644 "$repo/deploy/netmon-agent.service" "$root/etc/systemd/system/netmon-agent.service"

if [ -z "$root" ]; then
    chown netmon-agent:netmon-agent "$etc/agent.token" /var/lib/netmon-agent
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now netmon-agent
    else
        echo "systemd is not running: start the agent with" \
             "'runuser -u netmon-agent -- $venv/bin/netmon agent run --config /etc/netmon/agent.yaml'"
    fi
fi
if [ -n "$entry" ]; then
    echo "Add to the central agents file (netmon run --agents) / Thêm vào tệp tác tử ở trung tâm:"
    echo "$entry"
fi
