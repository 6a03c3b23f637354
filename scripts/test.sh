#!/usr/bin/env bash
# `make test`'s pytest: two runs side by side. The tests that touch the machine's network (the one simulated
# province, namespaces and 198.18.x addresses of their own: marked `machine_network` by tests/conftest.py)
# run in order in the foreground; everything else (promtool, parsers, reports, loopback peers) runs beside
# them, its output shown when both are done. Two runs rather than pytest-xdist groups: xdist 3.8 cannot
# group tests under pytest 9.2 (it renames a node id attribute pytest no longer reads).
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "${beside:-}" 2>/dev/null; rm -rf "$work"' EXIT
.venv/bin/python -m pytest -q -ra --durations=10 -m "not machine_network" -p no:cacheprovider \
  --basetemp "$work/beside" "$@" >"$work/beside.log" 2>&1 &
beside=$!
.venv/bin/python -m pytest -q -ra --durations=25 -m machine_network --basetemp "$work/network" "$@"
network=$?
wait "$beside"
rest=$?
beside=
echo "────── the tests run beside them (not touching the machine's network) ──────"
cat "$work/beside.log"
# pytest's 5 means "no test selected": a run of a subset may leave one side empty.
[ "$network" -eq 5 ] && network=0
[ "$rest" -eq 5 ] && rest=0
exit $(( network > rest ? network : rest ))
