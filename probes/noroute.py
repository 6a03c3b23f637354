"""What it means when this machine's kernel refuses to send to an address: one home for the errno
mapping and its words, shared by every probe that sends (ICMP, TCP, HTTP, DNS, NTP, trace).

The refusal comes from the route lookup before any packet leaves (Linux's ``fib_props``: a
``blackhole`` route fails with EINVAL, ``prohibit`` with EACCES, ``unreachable`` with EHOSTUNREACH;
no route at all is ENETUNREACH; a firewall's OUTPUT drop is EPERM). It is a property of the path, not
a bug, so probes report it as the ``unreachable`` reason — but the OS's own words are misleading:
``Invalid argument`` reads like netmon passed a bad value, when the shipped inventory's placeholder
range 198.18.0.0/15 is blackholed on purpose (DESIGN.md, Inventory). This module says which route did
it, in English in the probe's message and in Vietnamese where the CLI words a failure.
"""

from __future__ import annotations

import errno
import os

from probes.wording import Lang, Wording, say

#: Send and connect errors meaning "no way from here to that address".
NO_ROUTE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EINVAL, errno.EACCES, errno.EPERM,
                      errno.EHOSTDOWN, errno.EADDRNOTAVAIL})

#: The errors whose cause is this machine's own routing table or firewall, said so. The others keep
#: the OS's words: EHOSTUNREACH, for one, may also come from a router's ICMP message.
EXPLAINED: dict[int, Wording] = {
    errno.EINVAL: ("this machine's routing table discards packets to this address (blackhole route)",
                   "bảng định tuyến của máy này bỏ mọi gói tin tới địa chỉ này (tuyến blackhole)"),
    errno.EACCES: ("this machine's routing table forbids this address (prohibit route)",
                   "bảng định tuyến của máy này cấm địa chỉ này (tuyến prohibit)"),
    errno.ENETUNREACH: ("this machine has no route to this address's network",
                        "máy này không có tuyến tới mạng của địa chỉ này"),
    errno.EPERM: ("this machine's firewall does not let packets to this address out",
                  "tường lửa của máy này không cho gói tin tới địa chỉ này đi ra"),
}


def explain(exc: OSError) -> str:
    """Why sending to (or connecting to) an address failed, in English: this machine's route or firewall
    where the errno says so, else the OS's own words for it."""
    wording = EXPLAINED.get(exc.errno or 0)
    if wording:
        return say(wording, "en")
    return os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's strerror is "Connect call failed …"


def worded(message: str | None, lang: Lang) -> str | None:
    """The explanation a probe's ``message`` quotes (from `explain`), in ``lang``; None if it quotes
    none. Lets the CLI say in Vietnamese what a (English) failure message says, not just its reason."""
    for wording in EXPLAINED.values():
        if message and wording[0] in message:
            return say(wording, lang)
    return None
