"""Network namespaces for the ICMP tests: a lossy host, a lying host, a routed two-hop path, a bare namespace.

Names start with ``nmt-icmp-`` plus our PID; addresses are in 198.18.201.0/24 only. Every fixture tears
down what it made in ``finally``, also when the test fails. Callers install the 198.18.0.0/15 blackhole
in the root namespace first (conftest's ``blackhole_lab_range``); our /30 routes are more specific.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from tests.support import ROOT

_TAG = f"nmt-icmp-{os.getpid()}"


def sh(*args: str, stdin: str | None = None) -> str:
    """Run a command, raising with its stderr when it fails."""
    done = subprocess.run(args, input=stdin, text=True, capture_output=True)
    if done.returncode:
        raise AssertionError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def namespace(suffix: str) -> Iterator[str]:
    """A fresh namespace with its loopback up; deleted on exit."""
    name = f"{_TAG}-{suffix}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@contextmanager
def veth(left_ns: str | None, left: str, right_ns: str, right: str) -> Iterator[None]:
    """A veth pair ``left`` (in ``left_ns``, None = root) — ``right`` (in ``right_ns``), both addressed."""
    short = f"nmi{os.getpid() % 100000}{right_ns[-1]}"
    prefix = ["ip", "-n", left_ns] if left_ns else ["ip"]
    sh(*prefix, "link", "add", f"{short}a", "type", "veth", "peer", "name", f"{short}b", "netns", right_ns)
    try:
        sh(*prefix, "addr", "add", left, "dev", f"{short}a")
        sh(*prefix, "link", "set", f"{short}a", "up")
        sh("ip", "-n", right_ns, "addr", "add", right, "dev", f"{short}b")
        sh("ip", "-n", right_ns, "link", "set", f"{short}b", "up")
        yield
    finally:
        subprocess.run([*prefix, "link", "del", f"{short}a"], capture_output=True)


@dataclass(frozen=True)
class LossyHost:
    address: str
    namespace: str

    def dropped(self) -> int:
        """Echo requests nftables dropped so far (the rule's counter)."""
        found = re.search(r"counter packets (\d+)", sh("ip", "netns", "exec", self.namespace, "nft", "list",
                                                      "table", "inet", "nmt_icmp_loss"))
        assert found, "nft counter missing"
        return int(found.group(1))


@contextmanager
def lossy_host(percent: int) -> Iterator[LossyHost]:
    """198.18.201.2, dropping ``percent`` % of the echo requests it receives at random (nftables)."""
    with namespace("loss") as ns, veth(None, "198.18.201.1/30", ns, "198.18.201.2/30"):
        chance = "" if percent >= 100 else f"numgen random mod 100 < {percent} "
        rules = (
            "table inet nmt_icmp_loss {\n chain input {\n  type filter hook input priority 0;\n"
            f"  icmp type echo-request {chance}counter drop\n }}\n}}\n"
        )
        sh("ip", "netns", "exec", ns, "nft", "-f", "-", stdin=rules)
        yield LossyHost("198.18.201.2", ns)


@contextmanager
def two_hop_path() -> Iterator[tuple[str, str]]:
    """root → ns1 (router, 198.18.201.6) → ns2 (198.18.201.10); yields (router, destination)."""
    with ExitStack() as stack:
        router = stack.enter_context(namespace("r1"))
        host = stack.enter_context(namespace("h2"))
        stack.enter_context(veth(None, "198.18.201.5/30", router, "198.18.201.6/30"))
        stack.enter_context(veth(router, "198.18.201.9/30", host, "198.18.201.10/30"))
        sh("ip", "netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        sh("ip", "-n", host, "route", "add", "default", "via", "198.18.201.9")
        sh("ip", "route", "add", "198.18.201.8/30", "via", "198.18.201.6")
        stack.callback(subprocess.run, ["ip", "route", "del", "198.18.201.8/30"], capture_output=True)
        yield "198.18.201.6", "198.18.201.10"


@dataclass
class LyingHost:
    """A namespace whose echo replies lie; ``addresses`` maps each lie (`icmp_liar.LIES`) to its address."""

    addresses: dict[str, str]
    replies: Counter[str]


@contextmanager
def lying_host() -> Iterator[LyingHost]:
    """198.18.201.18-21 in one namespace, answered by `tests.probes.icmp_liar` instead of the kernel.

    ``replies`` counts the replies the liar sent per lie; it is filled in when the context exits.
    """
    from tests.probes.icmp_liar import LIES

    host = LyingHost({lie: f"198.18.201.{octet}" for octet, lie in LIES.items()}, Counter())
    with namespace("liar") as ns, veth(None, "198.18.201.17/29", ns, "198.18.201.18/29"):
        device = sh("ip", "-n", ns, "-o", "addr", "show", "to", "198.18.201.18").split()[1]
        for octet in sorted(LIES)[1:]:
            sh("ip", "-n", ns, "addr", "add", f"198.18.201.{octet}/29", "dev", device)
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1")
        liar = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.probes.icmp_liar"],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert liar.stdout is not None and liar.stdout.readline() == "ready\n", "icmp_liar did not start"
            yield host
        finally:
            liar.terminate()
            out, _ = liar.communicate(timeout=10)
            host.replies.update(out.split())


@contextmanager
def unroutable(address: str = "198.18.251.1") -> Iterator[str]:
    """An address blackholed by its own /32, so it stays unroutable while a lab routes 198.18.0.0/16."""
    sh("ip", "route", "add", "blackhole", f"{address}/32")
    try:
        yield address
    finally:
        subprocess.run(["ip", "route", "del", "blackhole", f"{address}/32"], capture_output=True)


def run_in_namespace(ns: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run a Python snippet (with the project importable) inside ``ns``."""
    return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], cwd=ROOT, text=True,
                          capture_output=True, timeout=60)
