"""Every probe type declares its facts: the failure reasons it can report, with words in both languages."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes import base
from probes.verdict import Verdict

PLUGIN_PACKAGES = base.PLUGIN_PACKAGES
#: The probes netmon ships; test modules register stand-ins of their own (tests/netmon/test_scheduler.py)
#: whose reasons are theirs to keep, and which a whole-suite run collects before this module.
SHIPPED = sorted(n for n, p in base.registry().items() if p.run.__module__.split(".")[0] in PLUGIN_PACKAGES)


def _tree(module: str) -> ast.Module:
    return ast.parse(Path(inspect.getfile(importlib.import_module(module))).read_text())


def _own_imports(module: str) -> set[str]:
    """``module`` and the plugin-package modules it imports, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(_tree(name)):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in PLUGIN_PACKAGES and target.count(".") == 1:
                    try:
                        importlib.import_module(target)
                    except ImportError:
                        continue  # a class or function imported from a module, not a module
                    todo.append(target)
    return seen


def _is_message(node: ast.AST) -> bool:
    """An f-string, a call (``str(exc)``) or words: what a ``(reason, message)`` pair ends with."""
    words = isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value
    return words or isinstance(node, ast.JoinedStr | ast.Call)


def _leading_str(node: ast.AST) -> str | None:
    """``"x"`` for a string constant, or for a ``("x", message)`` pair."""
    if isinstance(node, ast.Tuple):
        if len(node.elts) != 2 or not _is_message(node.elts[1]):
            return None
        node = node.elts[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _carries_reason(module: str, name: str) -> bool:
    """Whether ``name`` in ``module`` is an exception class whose first argument is a failure reason."""
    cls = getattr(importlib.import_module(module), name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return False
    init = cls.__dict__.get("__init__")  # a class of its own with ``__init__(self, reason, ...)``
    return init is not None and init.__code__.co_varnames[1:2] == ("reason",)


def _reasons_in(module: str) -> Iterator[tuple[str, int]]:
    """Every reason ``module`` can fail with, and its line: first arguments of ``fail(...)`` and of
    exceptions carrying a reason (``SnmpFailure("auth", ...)``), ``(reason, message)`` pairs a helper
    returns or assigns, values assigned to a name ``reason``, and the values of ``*_REASONS`` tables
    mapping codes to reasons."""
    for node in ast.walk(_tree(module)):
        found: list[ast.AST] = []
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if (name == "fail" or _carries_reason(module, name)) and node.args:
                found.append(node.args[0])
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            found.append(node.value)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if isinstance(value, ast.Tuple):
                found.append(value)
            if isinstance(target, ast.Name) and target.id == "reason":
                found += [n for n in ast.walk(value) if isinstance(n, ast.Constant)]
            if isinstance(target, ast.Name) and target.id.endswith("_REASONS") and isinstance(value, ast.Dict):
                found += value.values
        for item in found:
            reason = _leading_str(item)
            if reason is not None and reason.isidentifier() and reason.islower():
                yield reason, node.lineno


def test_every_registered_plugin_is_held_to_the_contract() -> None:
    """The tests below run over what discovery registered (`SHIPPED`): every ``register("name", ...)``
    in a plugin package's modules must be among them, or a plugin would escape its checks."""
    declared = set()
    for package_name in PLUGIN_PACKAGES:
        for info in pkgutil.iter_modules(importlib.import_module(package_name).__path__):
            for node in ast.walk(_tree(f"{package_name}.{info.name}")):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "register"
                        and node.args and isinstance(node.args[0], ast.Constant)):
                    declared.add(node.args[0].value)
    assert {"icmp", "snmp"} <= declared, "the scan is broken"  # one from each package
    assert declared == set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_failure_reason_is_declared_with_its_words(name: str) -> None:
    probe = base.get(name)
    found = {(module, reason, line) for module in _own_imports(probe.run.__module__)
             for reason, line in _reasons_in(module)}
    assert found, f"no failure reasons found for {name}: the scan is broken"
    missing = sorted(f"{module}:{line}: {reason!r}" for module, reason, line in found
                     if probe.reason(reason, "vi") is None)
    assert not missing, f"probe {name} fails with undeclared reasons: {missing}"


@pytest.mark.parametrize("name", SHIPPED)
def test_declared_reasons_have_both_languages(name: str) -> None:
    for reason, (english, vietnamese) in {**base.COMMON_REASONS, **base.get(name).reasons}.items():
        assert english.strip() and vietnamese.strip() and english != vietnamese, (name, reason)


def test_a_probe_without_a_judgement_of_its_own_is_judged_plainly() -> None:
    failed = base.Result("s", "c", "snmp", "t", "", False, 0.0, 0.1, reason="auth")
    assert (base.judge(failed).verdict, base.judge(failed).cause) == (Verdict.DOWN, "auth")


def test_only_engine_probes_bypass_the_concurrency_bound() -> None:
    assert {n for n, p in base.registry().items() if p.shares_engine} == {"icmp"}
