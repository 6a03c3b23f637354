"""A process the lab daemon runs inside a namespace (snmpd, wireguard-go).

Each is started and waited for until it says it is ready. After that its output is drained into the daemon's
log, because a pipe nobody reads would block it. Stopping terminates it and waits for that drain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping


class Child:
    """One such process; ``proc`` is None while it is not running."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def spawn(self, namespace: str, argv: list[str], ready: bytes, timeout: float,
                    log_line: Callable[[bytes], None], env: Mapping[str, str]) -> list[str] | None:
        """Start ``argv`` in ``namespace``: None once a line holding ``ready`` came (later lines go to
        ``log_line``), else — stopped again — what it said before it ended or ``timeout`` passed."""
        self.proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", namespace, *argv, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=dict(env),
            start_new_session=True)
        stdout = self.proc.stdout
        assert stdout is not None
        said: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                while line := await stdout.readline():
                    if ready in line:
                        self._drain = asyncio.get_running_loop().create_task(_drain(stdout, log_line))
                        return None
                    said.append(line.decode(errors="replace").strip())
        except TimeoutError:
            said.append(f"no answer in {timeout:g} s")
        await self.stop()
        return said

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        if self._drain is not None:
            await self._drain
            self._drain = None


async def _drain(stream: asyncio.StreamReader, log_line: Callable[[bytes], None]) -> None:
    while line := await stream.readline():
        log_line(line)
