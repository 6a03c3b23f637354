"""Low-level namespace plumbing: run code or open sockets inside a named network namespace, drive `ip`.

Python 3.11 has no ``os.setns``: we call libc's ``setns(2)`` through ctypes. A network namespace is a
per-thread attribute, so code meant for a namespace runs in a short-lived thread that enters it
first; the caller's thread never changes namespace. A socket keeps the namespace it was created in
for its whole life, which is what lets one lab daemon serve every simulated host from one event loop.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from netmon.i18n import lang, text
from probes.errors import NetmonError, PrivilegeError

#: Every namespace, root-namespace interface and state file of the lab carries this prefix, so
#: `lab down` finds leftovers of a crashed run without any record of it.
PREFIX = "nml-"
NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000

T = TypeVar("T")


class LabError(NetmonError):
    """A lab operation failed (a command, a namespace, the daemon); the message says which, in the user's
    language: ``LabError(key, **values)`` words ``MESSAGES[key]``, so no lab error can be English-only
    (tests/lab/test_wording.py walks every ``LabError(...)`` for its key)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(text(MESSAGES, key, lang(), **values))


#: Every lab error, ``{key: (english, vietnamese)}``; what it quotes (commands, their stderr, addresses)
#: stays as written.
MESSAGES = {
    "no_tool": ("`{tool}` not found: install iproute2, nftables and iptables",
                "không tìm thấy `{tool}`: hãy cài iproute2, nftables và iptables"),
    "command": ("`{command}` failed: {said}", "lệnh `{command}` lỗi: {said}"),
    "leftovers": ("could not remove every lab namespace/interface: {said}",
                  "không xóa hết được các không gian mạng/giao diện của lab: {said}"),
    "blackhole": ("cannot install the 198.18.0.0/15 blackhole route: {said}",
                  "không cài được tuyến chặn (blackhole) 198.18.0.0/15: {said}"),
    "no_lab": ("no lab is up: start one with `netmon lab up` (or `netmon demo`)",
               "chưa có lab nào chạy: hãy khởi động bằng `netmon lab up` (hoặc `netmon demo`)"),
    "no_lab_reuse": ("`--reuse-lab`: no lab is up (start one with `netmon lab up`)",
                     "`--reuse-lab`: chưa có lab nào chạy (khởi động bằng `netmon lab up`)"),
    "already_up": ("a lab is already up (daemon pid {pid}); run `netmon lab down` first",
                   "đã có một lab đang chạy (tiến trình nền pid {pid}); hãy chạy `netmon lab down` trước"),
    "no_answer": ("the lab daemon does not answer ({reason}); run `netmon lab down` then `netmon lab up`",
                  "tiến trình nền của lab không trả lời ({reason}); hãy chạy `netmon lab down` rồi "
                  "`netmon lab up`"),
    "not_started": ("the lab daemon did not start ({reason}); its log:\n{log}",
                    "tiến trình nền của lab không khởi động được ({reason}); nhật ký của nó:\n{log}"),
    "exited": ("it exited", "nó đã thoát"),
    "timed_out": ("no word within {seconds:.0f} s", "không báo gì trong {seconds:.0f} giây"),
    "root_only": ("the lab's state in {state} is readable by root only: run this as root",
                  "trạng thái của lab trong {state} chỉ root đọc được: hãy chạy lệnh này bằng root"),
    "key_value": ("expected KEY=VALUE, got {pair!r}", "cần dạng KHÓA=GIÁ_TRỊ, nhận được {pair!r}"),
    "flow": ("expected ADDRESS or ADDRESS:PORT (IPv4), got {value!r}",
             "cần dạng ĐỊA_CHỈ hoặc ĐỊA_CHỈ:CỔNG (IPv4), nhận được {value!r}"),
    "snmpd": ("snmpd for {device} ({address}) did not start: {said}",
              "snmpd của {device} ({address}) không khởi động được: {said}"),
    "wireguard": ("wireguard-go {ifname} in {namespace} did not start: {said} "
                  "(install Debian's wireguard-go)",
                  "wireguard-go {ifname} trong {namespace} không khởi động được: {said} "
                  "(hãy cài gói wireguard-go của Debian)"),
    "silent": ("no output", "không có đầu ra"),
    "wireguard_config": ("configuring {ifname} failed: {said}", "cấu hình {ifname} lỗi: {said}"),
    "tunnel_range": ("the lab's tunnels hold addresses in {block}; the inventory's secure_channel uses "
                     "{addresses}",
                     "đường hầm của lab dùng địa chỉ trong {block}; secure_channel trong danh mục dùng "
                     "{addresses}"),
    "outside": ("the lab only simulates 198.18.0.0/15; the inventory uses {addresses}",
                "lab chỉ mô phỏng dải 198.18.0.0/15; danh mục dùng {addresses}"),
    "collide": ("namespace names collide: {names}", "tên không gian mạng bị trùng: {names}"),
    # a `PrivilegeError`, said here beside the lab's other errors
    "root": ("the simulated province needs root (or CAP_NET_ADMIN + CAP_NET_RAW + CAP_SYS_ADMIN) to create "
             "network namespaces: run it again with sudo: `{again}`",
             "tỉnh mô phỏng cần quyền root (hoặc CAP_NET_ADMIN + CAP_NET_RAW + CAP_SYS_ADMIN) để tạo không "
             "gian mạng: hãy chạy lại với sudo: `{again}`"),
}


def _again_with_sudo() -> str:
    """The command the user just ran, as they can re-run it: `sudo make demo` under make, else the
    netmon command line itself (by the path that ran, since sudo's PATH rarely holds the .venv)."""
    if os.environ.get("MAKELEVEL") and sys.argv[1:] == ["demo"]:
        return "sudo make demo"
    return "sudo " + shlex.join([sys.argv[0] if os.sep in sys.argv[0] else "netmon", *sys.argv[1:]])


def require_privileges() -> None:
    """Fail fast, with the fix, when namespaces cannot be created."""
    if os.geteuid() != 0:
        raise PrivilegeError(text(MESSAGES, "root", lang(), again=_again_with_sudo()))
    for tool in ("ip", "nft", "iptables-restore"):
        if shutil.which(tool) is None:
            raise LabError("no_tool", tool=tool)


def _setns(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread that has entered namespace ``name``; return its result or raise."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            _setns(name)
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def listening_socket(
    namespace: str, address: str, port: int, kind: int = socket.SOCK_STREAM
) -> socket.socket:
    """A bound (and, for TCP, listening) non-blocking socket that lives in ``namespace``.

    A TCP socket is created with its protocol named (``IPPROTO_TCP``, not 0): asyncio sets
    ``TCP_NODELAY`` on a connection only when its socket says so, as a real server (nginx) does. Without
    it, a reply written while the TLS session tickets were still unacknowledged waited one more round
    trip (Nagle) — one of the two reasons (the other: `netmon.lab.impair`, TCP small queues) why an
    HTTPS answer to a 600 ms VSAT center took 2.4 s instead of 1.8 s, and a server slow by 1.5 s
    looked slow by 0.9 s, its think time hiding the wait.
    """

    def make() -> socket.socket:
        proto = socket.IPPROTO_TCP if kind == socket.SOCK_STREAM else 0
        sock = socket.socket(socket.AF_INET, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(512)
        sock.setblocking(False)
        return sock

    return in_netns(namespace, make)


def set_sysctl(namespace: str, key: str, value: str) -> None:
    """Write a per-namespace sysctl: /proc/sys/net is resolved against the writing thread's namespace."""
    path = Path("/proc/sys") / key.replace(".", "/")
    in_netns(namespace, lambda: path.write_text(value))


def run(args: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure becomes a `LabError` quoting the command and its stderr."""
    done = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise LabError("command", command=" ".join(args), said=done.stderr.strip() or done.stdout.strip())
    return done


def ip_batch(lines: Iterable[str], namespace: str | None = None) -> None:
    """Feed many `ip` commands to one process (``ip -batch``): 90 namespaces in a fraction of a second."""
    text = "\n".join(lines) + "\n"
    run(["ip", *(["-n", namespace] if namespace else []), "-batch", "-"], stdin=text)


def exec_in(namespace: str, args: list[str], stdin: str | None = None) -> None:
    run(["ip", "netns", "exec", namespace, *args], stdin=stdin)


def lab_namespaces() -> list[str]:
    """Namespaces the lab owns, found by prefix (so also those of a crashed run)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(PREFIX))


def lab_root_links() -> list[str]:
    """Root-namespace interfaces the lab owns (the veth end facing the data center)."""
    out = run(["ip", "-o", "link", "show"]).stdout
    names = (line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line)
    return [n for n in names if n.startswith(PREFIX)]


def remove_all() -> None:
    """Delete every lab namespace and root interface; namespaces take their veths, rules and routes along."""
    lines = [f"netns del {name}" for name in lab_namespaces()]
    lines += [f"link del {name}" for name in lab_root_links()]
    if lines:
        # -force: keep going past an entry another `down` already removed.
        done = subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(lines) + "\n",
                              capture_output=True, text=True)
        if lab_namespaces() or lab_root_links():
            raise LabError("leftovers", said=done.stderr.strip())


def ensure_blackhole() -> None:
    """No lab address may ever leave the machine: a blackhole under the lab's more specific routes."""
    done = run(["ip", "route", "add", "blackhole", "198.18.0.0/15"], check=False)
    if done.returncode != 0 and "File exists" not in done.stderr:
        raise LabError("blackhole", said=done.stderr.strip())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True
