"""Peers for the hardening tests: a self-signed certificate, a web-config file, `netmon run` behind
TLS/basic auth, and Debian's Prometheus scraping it with ``tls_config`` and ``basic_auth``.

Every process is started here and stopped by its PID; readiness is each program's own endpoint.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import ROOT, free_port, http_get, require_binary, stop_process, wait_until

#: Test-only basic-auth credentials; the secrets grep looks for the password everywhere.
USER = "prometheus"
PASSWORD = "scrape-pass-8313-hardening"


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A P-256 certificate valid for ``host`` (IP SAN) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netmon-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "netmon.crt", directory / "netmon.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def web_config(directory: Path, tls: bool = True, users: dict[str, str] | None = None) -> Path:
    """A web-config with relative cert paths (as exporter-toolkit resolves them) and bcrypt hashes."""
    config: dict[str, object] = {}
    if tls:
        self_signed(directory)
        config["tls_server_config"] = {"cert_file": "netmon.crt", "key_file": "netmon.key"}
    users = {USER: PASSWORD} if users is None else users
    if users:
        config["basic_auth_users"] = {
            u: bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
            for u, p in users.items()}
    path = directory / "web.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class SecureNetmon:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    ca: Path | None

    def client(self, auth: tuple[str, str] | None = (USER, PASSWORD)) -> httpx.Client:
        verify = ssl.create_default_context(cafile=str(self.ca)) if self.ca else True
        return httpx.Client(base_url=self.url, verify=verify, auth=auth, timeout=5)

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """All samples of metric ``name`` in the current exposition (authorised)."""
        from prometheus_client.parser import text_string_to_metric_families

        with self.client() as client:
            text = client.get("/metrics").text
        return [(dict(s.labels), float(s.value)) for family in text_string_to_metric_families(text)
                for s in family.samples if s.name == name]


@contextmanager
def netmon_secure(config: Path, tmp: Path, web: Path | None, *args: str, host: str = "127.0.0.1",
                  env: dict[str, str] | None = None, wrapper: tuple[str, ...] = ()) -> Iterator[SecureNetmon]:
    """``netmon run --web-config web`` on a free port; yields once an authorised /-/healthy answers."""
    port = free_port()
    log = tmp / f"netmon-{port}.log"
    history = () if "--history" in args else ("--no-history",)
    cmd = [*wrapper, sys.executable, "-m", "netmon.cli", "run", "--config", str(config), *history,
           "--listen", f"{host}:{port}", *(["--web-config", str(web)] if web else []), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, **(env or {})})
    tls = web is not None and "tls_server_config" in web.read_text()
    secure = SecureNetmon(proc, f"{'https' if tls else 'http'}://{host}:{port}", log,
                          (web.parent / "netmon.crt") if tls and web else None)
    try:
        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"netmon exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with secure.client() as c:
                    return c.get("/-/healthy").status_code == 200
            except httpx.TransportError as exc:
                raise OSError(str(exc)) from exc
        wait_until(healthy, 30, "netmon /-/healthy over TLS")
        yield secure
    finally:
        stop_process(proc)


@contextmanager
def prometheus_scraping(tmp: Path, target: SecureNetmon, user: str, password: str) -> Iterator[str]:
    """Debian's Prometheus scraping ``target`` over HTTPS with basic auth; yields its URL."""
    binary = require_binary("prometheus")
    port = free_port()
    password_file = tmp / f"scrape-password-{port}"
    password_file.write_text(password)
    job = {"job_name": "netmon", "scheme": "https", "scrape_interval": "1s",
           "tls_config": {"ca_file": str(target.ca)},
           "basic_auth": {"username": user, "password_file": str(password_file)},
           "static_configs": [{"targets": [target.url.split("://", 1)[1]]}]}
    cfg = tmp / f"prometheus-{port}.yml"
    cfg.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}))
    log = tmp / f"prometheus-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / f'tsdb-{port}'}",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is None and http_get(f"{url}/-/ready", timeout=1)[0] == 200,
                   30, "prometheus /-/ready")
        yield url
    finally:
        stop_process(proc)
