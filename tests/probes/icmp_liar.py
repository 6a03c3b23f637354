"""An ICMP echo responder that lies, run inside a test namespace: ``python -m tests.probes.icmp_liar``.

The namespace's kernel is told not to answer pings (``icmp_echo_ignore_all``); this process answers
instead, from a raw socket that writes its own IP header, so each reply leaves from the address that
was asked. How it lies depends on that address (`LIES`, by last octet): a bad checksum, a foreign
identifier, a sequence never sent — or no lie at all, the control proving the responder works. It
prints ``ready`` once listening, then the lie's name for every reply sent.
"""

from __future__ import annotations

import socket
import struct

from probes.icmp_engine import checksum

#: Last octet of the address asked → how the reply to it is broken.
LIES = {18: "bad-checksum", 19: "foreign-identifier", 20: "wrong-sequence", 21: "honest"}


def reply(request: bytes) -> tuple[bytes, str, str] | None:
    """(IP packet, destination, lie) answering the echo request ``request`` (an IP packet), or None."""
    header = (request[0] & 0x0F) * 4
    icmp = request[header:]
    if len(icmp) < 8 or icmp[0] != 8:
        return None
    asker, asked = socket.inet_ntoa(request[12:16]), request[16:20]
    lie = LIES.get(asked[3])
    if lie is None:
        return None
    ident, seq = struct.unpack_from("!HH", icmp, 4)
    ident ^= 0x8000 if lie == "foreign-identifier" else 0
    seq ^= 0x8000 if lie == "wrong-sequence" else 0
    body = struct.pack("!BBHHH", 0, 0, 0, ident, seq) + icmp[8:]
    csum = checksum(body) ^ (0x0101 if lie == "bad-checksum" else 0)
    body = body[:2] + struct.pack("!H", csum) + body[4:]
    # IP header: the kernel fills in total length, identification and header checksum
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, socket.IPPROTO_ICMP, 0, asked,
                     request[12:16])
    return ip + body, asker, lie


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    print("ready", flush=True)
    while True:
        answer = reply(sock.recv(65535))
        if answer is not None:
            packet, asker, lie = answer
            sock.sendto(packet, (asker, 0))
            print(lie, flush=True)


if __name__ == "__main__":
    main()
