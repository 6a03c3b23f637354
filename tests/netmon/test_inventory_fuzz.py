"""Property-based fuzzing of the loader: it returns an Inventory or raises ConfigError — nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netmon.inventory import ConfigError, Inventory, load
from tests.support import ROOT

VALID = (ROOT / "tests" / "fixtures" / "inventory" / "valid.yaml").read_bytes()
LINES = VALID.split(b"\n")

_YAML_BITS = [b":", b"- ", b"{", b"}", b"[", b"]", b"&a", b"*a", b"!!python/object:os.system", b"\t", b"'",
              b'"', b"\xff", b"\x00", b"<<: ", b"~", b"null", b"1e999", b"-1", b"2025-13-45", b"0x10", b"#"]


def _load_bytes(data: bytes) -> Inventory | None:
    with tempfile.NamedTemporaryFile(suffix=".yaml") as f:
        f.write(data)
        f.flush()
        try:
            return load(Path(f.name))
        except ConfigError as exc:
            assert exc.issues, "a ConfigError must carry at least one issue"
            for issue in exc.issues:
                assert issue.file == f.name and issue.line >= 0 and issue.message
            return None


mutation = st.tuples(st.integers(0, len(LINES) - 1), st.sampled_from(["drop", "dup", "insert", "replace"]),
                     st.sampled_from(_YAML_BITS), st.integers(0, 80))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_file_never_crashes_the_loader(mutations: list[tuple[int, str, bytes, int]]) -> None:
    lines = list(LINES)
    for index, op, bit, col in mutations:
        index %= len(lines)
        if op == "drop":
            del lines[index]
        elif op == "dup":
            lines.insert(index, lines[index])
        elif op == "insert":
            lines[index] = lines[index][:col] + bit + lines[index][col:]
        else:
            lines[index] = lines[index][:col] + bit
        if not lines:
            lines = [b""]
    _load_bytes(b"\n".join(lines))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_the_loader(data: bytes) -> None:
    _load_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=30))
def test_arbitrary_yaml_structures_never_crash_the_loader(value: object) -> None:
    import yaml

    _load_bytes(yaml.safe_dump({"version": 1, "defaults": value, "sites": value}, allow_unicode=True).encode())
