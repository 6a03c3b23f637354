"""YAML that remembers where every value came from, so each config error can name file, line and path.

PyYAML's ``safe_load`` forgets positions, silently keeps the last of duplicate keys and expands alias
bombs. We compose the node graph ourselves instead: every mapping value and sequence item gets its
line recorded under its path, duplicate keys are reported, and the number of values produced is
capped so a "billion laughs" file is rejected instead of eating the machine.

Composition uses libyaml when PyYAML was built with it (4× faster than the pure-Python composer on a
national inventory); a file libyaml rejects is composed again by the pure-Python parser, so syntax
errors keep PyYAML's exact wording. Each parse gets its own constructor: a shared one keeps every node
it ever built in ``constructed_objects`` (~130 MB for 20,000 checks, and more on every reload).
"""

from __future__ import annotations

import os
import select
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netmon.i18n import Lang, lang, text
from netmon.inventory import wording
from probes.errors import NetmonError

PathKey = tuple[str | int, ...]

#: Upper bounds for one file: far above the national inventory (~3,300 sites), far below harm.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: A config that is not a regular file (a pipe, a device) must deliver all of itself within this.
READ_SECONDS = 10.0
MAX_VALUES = 1_000_000
MAX_DEPTH = 64


def dotted(path: Sequence[str | int]) -> str:
    """``("sites", 12, "checks", 1, "timeout")`` → ``sites[12].checks[1].timeout``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in one file, located as precisely as the source allows."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        """``file:line: path: message``, the message in the user's language (`netmon.i18n.lang`)."""
        return f"{self.file}:{self.line}: {self.path}: {wording.say(self.message, lang())}"


class ConfigError(NetmonError):
    """A config file is invalid; carries every issue found, not only the first."""

    def __init__(self, issues: Iterable[ConfigIssue]):
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.path))
        super().__init__("\n".join(str(i) for i in self.issues))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigIssue]]]:
        """Pickled with its issues: the edge agent validates in a child process, and `netmon run` loads
        big inventories in one (`netmon.inventory.isolated`)."""
        return (type(self), (self.issues,))

    def heading(self, path: str | Path, lang: Lang) -> str:
        """The line above the list of issues: the file and how many."""
        return text(_HEADING, "errors", lang, path=path, n=len(self.issues))


_HEADING = {"errors": ("{path}: {n} error(s)", "{path}: {n} lỗi")}


@dataclass
class Document:
    """Parsed YAML plus a path → line index; ``locate`` finds the closest known line for any path."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int]) -> int:
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)

    def issue(self, path: Sequence[str | int], message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.locate(path), dotted(path), message)


class _Builder:
    def __init__(self, doc: Document):
        self.doc = doc
        self.count = 0
        self.issues: list[ConfigIssue] = []
        self._scalars = yaml.SafeLoader("")  # only its constructor is used; dropped with the builder

    def _scalar(self, node: yaml.Node) -> Any:
        # Scalars need no identity across aliases (collections are built by `build`), so the
        # constructor's node → value memo is emptied at once instead of pinning the whole tree.
        try:
            return self._scalars.construct_object(node, deep=True)
        except (ValueError, OverflowError):
            # A scalar YAML resolves to a type it cannot build (``since: 2025-13-45`` is a timestamp
            # with month 13): keep the text, so the schema names the field, file and line.
            return node.value
        finally:
            self._scalars.constructed_objects.clear()

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            # Name the top-level key that exploded, not the millionth nested index.
            raise ConfigError([self.doc.issue(path[:1], f"more than {MAX_VALUES} values (alias bomb?)")])
        if depth > MAX_DEPTH:
            raise ConfigError([self.doc.issue(path[:1], f"nested deeper than {MAX_DEPTH} levels")])
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError([self.doc.issue(path, "YAML merge keys ('<<') are not supported")])
            key = self._scalar(key_node)
            if not isinstance(key, str | int | bool | float) or key is None:
                self.issues.append(self.doc.issue(path, f"mapping key must be a scalar, got {key!r}"))
                continue
            sub = (*path, str(key))
            if key in out:
                self.issues.append(
                    ConfigIssue(self.doc.file, key_node.start_mark.line + 1, dotted(sub), "duplicate key")
                )
                continue
            self.doc.lines[sub] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, sub, depth + 1)
        return out


#: libyaml's composer when PyYAML has it (None otherwise); same node graph and marks as the pure-Python
#: one, and libyaml caps nesting at 1,000 levels itself.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """The node graph of ``text``; a rejected file is re-read by the pure-Python parser for its message."""
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse(text: str, file: str) -> Document:
    """Parse YAML text into a `Document`; syntax errors become a `ConfigError` with the line."""
    doc = Document(file=file, data=None)
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = f"invalid YAML: {exc.problem}"
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ConfigError([ConfigIssue(file, line, "(yaml)", message)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(file, 1, "(yaml)", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([ConfigIssue(file, 1, "(yaml)", "nested too deeply")]) from None
    if node is None:
        raise ConfigError([ConfigIssue(file, 1, "(top level)", "file is empty")])
    builder = _Builder(doc)
    try:
        doc.data = builder.build(node, (), 0)
    except RecursionError:
        raise ConfigError([ConfigIssue(file, 1, "(yaml)", "structure is recursive")]) from None
    except yaml.MarkedYAMLError as exc:  # an unknown tag: its line, not PyYAML's "in <unicode string>"
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ConfigError([ConfigIssue(file, line, "(yaml)", f"invalid YAML value: {exc.problem}")]) from None
    except yaml.YAMLError as exc:  # a scalar that cannot be constructed, e.g. a bad timestamp
        raise ConfigError([ConfigIssue(file, 1, "(yaml)", f"invalid YAML value: {exc}")]) from None
    if builder.issues:
        raise ConfigError(builder.issues)
    return doc


def _read_bounded(path: Path) -> bytes:
    """The file's bytes (at most `MAX_FILE_BYTES` + 1); a pipe or device within `READ_SECONDS`.

    A FIFO given as the config once blocked ``netmon validate`` forever, and every reload of a running
    service took a worker thread for good. Opening with O_NONBLOCK returns at once even with no writer.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.set_blocking(fd, True)
            with os.fdopen(os.dup(fd), "rb") as f:
                return f.read(MAX_FILE_BYTES + 1)
        deadline = time.monotonic() + READ_SECONDS
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read(path: str | Path) -> Document:
    """Read and parse a YAML file, turning I/O and encoding problems into a `ConfigError`."""
    name = str(path)
    try:
        raw = _read_bounded(Path(path))
    except TimeoutError:  # before OSError, of which it is a subclass
        problem = f"no complete data within {READ_SECONDS:g}s (a pipe nobody writes to?): give a regular file"
        raise ConfigError([ConfigIssue(name, 0, "(file)", problem)]) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, 0, "(file)", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([ConfigIssue(name, 0, "(file)", f"larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigIssue(name, line, "(file)", f"not valid UTF-8 (byte {exc.start})")]
        ) from None
    return parse(text, name)
