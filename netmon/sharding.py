"""Deterministic sharding: N netmon instances split one inventory with no overlap and no gap.

A check belongs to shard ``I`` of ``N`` when a stable hash of its key (site + check id) modulo N is
``I - 1``. The hash is CRC-32 — stable across processes, Python versions and machines, unlike
``hash()`` — so every instance computes the same split from the same file without talking to others.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from probes.base import Check
from probes.errors import NetmonError


class ShardError(NetmonError):
    def __init__(self, value: str):
        super().__init__(f"--shard {value!r}: expected I/N with 1 <= I <= N, e.g. --shard 2/3")


@dataclass(frozen=True, slots=True)
class Shard:
    index: int  # 1-based, as operators count
    count: int

    @classmethod
    def parse(cls, value: str) -> Shard:
        index, sep, count = value.partition("/")
        if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
            raise ShardError(value)
        return cls(int(index), int(count))

    def owns(self, check: Check) -> bool:
        return zlib.crc32(check.key.encode()) % self.count == self.index - 1

    def select(self, checks: Iterable[Check]) -> list[Check]:
        return [c for c in checks if self.owns(c)]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
