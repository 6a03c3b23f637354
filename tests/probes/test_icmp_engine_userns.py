"""The ICMP engine's matching logic, tested without root: in an unprivileged user + network namespace.

Inside ``unshare --user --map-root-user --net`` an ordinary user holds CAP_NET_RAW over a private
network namespace that has only a loopback interface, which is all this needs: raw sockets, and
127.0.0.0/8 and ::1 answered by the kernel. Run as root, the test first drops to ``nobody`` (with the
system ``python3``: the engine is standard library only, and a virtualenv's interpreter may sit in
root's home), so it shows what a contributor without root gets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT

#: Bursts that only come out right if every reply is matched to its own burst: one IPv4 and one IPv6,
#: 1,000 targets in flight at once, and 20 bursts to one address at the same time.
SNIPPET = """
import asyncio, json
from probes.icmp_engine import IcmpEngine

def lost(bursts):
    return sum(b.sent - len(b.received) for b in bursts)

async def main():
    async with IcmpEngine() as e:
        one = await e.burst("127.0.0.1", 3, 0.01, 1.0)
        six = await e.burst("::1", 2, 0.01, 1.0)
        many = await asyncio.gather(*(e.burst(f"127.0.{i >> 8}.{i & 255}", 2, 0.01, 1.0)
                                      for i in range(256, 1256)))
        same = await asyncio.gather(*(e.burst("127.0.0.2", 5, 0.001, 1.0) for _ in range(20)))
        print(json.dumps({"mode": e.mode, "lost": [lost([one]), lost([six]), lost(many), lost(same)],
                          "sent": [one.sent, six.sent, sum(b.sent for b in many), sum(b.sent for b in same)],
                          "extra": sum(len(b.received) > b.sent for b in [one, six, *many, *same])}))

asyncio.run(main())
"""


def test_engine_matches_replies_in_an_unprivileged_user_namespace() -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is missing")
    python = sys.executable
    prefix: list[str] = []
    if os.geteuid() == 0:
        python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    argv = [*prefix, unshare, "--user", "--map-root-user", "--net", "sh", "-c",
            'ip link set lo up && exec "$0" -c "$1"', python, SNIPPET]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(argv, cwd="/", capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    assert found["mode"] == "raw"
    assert found["sent"] == [3, 2, 2000, 100]
    assert found["lost"] == [0, 0, 0, 0] and found["extra"] == 0
