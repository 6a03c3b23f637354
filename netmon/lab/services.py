"""The data center's servers and every CPE's TCP 443, all in the lab daemon's one event loop.

Each listening socket is created inside its namespace (`netns.listening_socket`) and handed to asyncio.
Behaviour is read per request from a callable, so `netmon lab set qlvb status=503` applies to the
next request; a certificate change (``cert_days``) reloads the same `SSLContext`, which only affects
new handshakes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Mapping
from http import HTTPStatus
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from netmon.lab import netns
from netmon.lab.scenario import DnsBehaviour, ServiceBehaviour

DNS_ZONE = "sonla.gov.vn"
_DAY = dt.timedelta(days=1)
_CA_USAGE = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netmon lab (simulated, not trusted)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class LabCA:
    """A CA made at lab start; ``ca.pem`` in the state dir is what the HTTP probe must trust."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(_name("netmon lab CA")).issuer_name(_name("netmon lab CA"))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY).not_valid_after(now + 3650 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = directory / "ca.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, address: str, days: float) -> tuple[Path, Path]:
        """A leaf for ``address`` expiring in ``days`` (negative: already expired); returns (cert, key)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        not_after = now + dt.timedelta(days=days)
        cert = (
            x509.CertificateBuilder().subject_name(_name(f"{name}.{DNS_ZONE}")).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(min(now, not_after) - _DAY).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address)),
                                                        x509.DNSName(f"{name}.{DNS_ZONE}")]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = self.directory / f"{name}.pem", self.directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return cert_path, key_path


class HttpService:
    """One HTTP(S) endpoint answering every request with the scenario's status after its latency."""

    def __init__(self, service_id: str, address: str, port: int, ca: LabCA | None,
                 behaviour: Callable[[], ServiceBehaviour], sites: Mapping[str, str] | None = None) -> None:
        self.id, self.address, self.port = service_id, address, port
        self.ca, self.behaviour = ca, behaviour
        #: Client address (a center's link address) → site slug, for ``slow_from``.
        self.sites = sites or {}
        self.context: ssl.SSLContext | None = None
        self.cert_days: float | None = None
        self.server: asyncio.Server | None = None

    def refresh_certificate(self) -> None:
        days = self.behaviour().cert_days
        if self.ca is None or days == self.cert_days:
            return
        cert, key = self.ca.issue(self.id, self.address, days)
        if self.context is None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.cert_days = days

    async def start(self, namespace: str) -> None:
        self.refresh_certificate()
        sock = netns.listening_socket(namespace, self.address, self.port)
        self.server = await asyncio.start_server(self._handle, sock=sock, ssl=self.context)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            method, path, *_ = [*request.split(b" ", 2), b"", b""]
            b = self.behaviour()
            peer = writer.get_extra_info("peername")
            latency = b.latency + b.slow_from.get(self.sites.get(peer[0] if peer else "", ""), 0.0)
            if latency:
                await asyncio.sleep(latency)  # the simulated server's processing time
            reason = HTTPStatus(b.status).phrase if b.status in HTTPStatus._value2member_map_ else "Status"
            kind, body = self._page(path.decode("latin-1"), b.status, reason)
            head = (f"HTTP/1.1 {b.status} {reason}\r\nContent-Type: {kind}; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            writer.write(head + (b"" if method == b"HEAD" else body))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ssl.SSLError):
            pass  # a client that goes away mid-request is not the server's problem
        finally:
            writer.close()


    def _page(self, path: str, status: int, reason: str) -> tuple[str, bytes]:
        """What a real service shows: its API health as JSON, else its login form while it works and a
        bare error page (no form, as a failing proxy shows) when the scenario makes it fail."""
        healthy = 200 <= status < 400
        if path.startswith("/api/health"):
            state = "ok" if healthy else "error"
            return "application/json", f'{{"service": "{self.id}", "status": "{state}"}}\n'.encode()
        form = ('<form method="post" action="/login"><input name="username"><input name="password" '
                'type="password"><button>Đăng nhập</button></form>') if healthy else ""
        return "text/html", (f"<html><head><title>{self.id} (netmon lab)</title></head><body>"
                             f"<p>{self.id}: {status} {reason}</p>{form}</body></html>\n").encode()


class DnsService(asyncio.DatagramProtocol):
    """Authoritative answers for ``<service id>.sonla.gov.vn`` (UDP), with scenario latency and rcode."""

    def __init__(self, records: dict[str, str], behaviour: Callable[[], DnsBehaviour]) -> None:
        self.records = {f"{name}.{DNS_ZONE}.": address for name, address in records.items()}
        self.behaviour = behaviour
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:  # garbage from the network is dropped, as a real server does
            return
        b = self.behaviour()
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        question = query.question[0] if query.question else None
        address = self.records.get(question.name.to_text().lower()) if question is not None else None
        if b.rcode != "NOERROR":
            reply.set_rcode(dns.rcode.from_text(b.rcode))
        elif question is None or address is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", address))
        wire = reply.to_wire()
        loop = asyncio.get_running_loop()
        loop.call_later(b.latency, self._send, wire, addr)

    def _send(self, wire: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(wire, addr)

    async def start(self, namespace: str, address: str) -> None:
        sock = netns.listening_socket(namespace, address, 53, socket.SOCK_DGRAM)
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, sock=sock)


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def cpe_listener(namespace: str, address: str, port: int = 443) -> asyncio.Server:
    """A CPE's management port: accepts the handshake (what the tcp probe measures), then closes."""
    return await asyncio.start_server(_hang_up, sock=netns.listening_socket(namespace, address, port))
