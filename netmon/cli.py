"""The `netmon` command. Each subcommand is a module in `netmon.commands` with a ``register`` function,
discovered at start, so adding a command is adding a file.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import re
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from netmon import __version__, commands, help_vi, i18n
from probes.errors import NetmonError


def here_or_shipped(local: Path) -> str:
    """``local`` if it exists in the working directory, else the one shipped beside the code: the
    README's commands work from any directory, not only from the repository's root."""
    shipped = Path(__file__).resolve().parents[1] / local
    return str(shipped) if not local.exists() and shipped.exists() else str(local)


#: ``$NETMON_CONFIG``, else ``config/communes.yaml`` here, else the shipped inventory.
DEFAULT_CONFIG = os.environ.get("NETMON_CONFIG") or here_or_shipped(Path("config", "communes.yaml"))
#: ``alerts/`` here, else the shipped rules and Alertmanager base (`netmon alerts generate`, `backtest`).
DEFAULT_ALERTS = here_or_shipped(Path("alerts"))


def invocation() -> str:
    """How to run this netmon from another terminal: ``netmon`` when that is the one on PATH, else its
    full path (after `make demo` it lives in the repository's .venv, which is not on PATH)."""
    script = Path(sys.executable).parent / "netmon"
    found = shutil.which("netmon")
    if found and script.is_file() and Path(found).resolve() == script.resolve():
        return "netmon"
    return str(script) if script.is_file() else f"{sys.executable} -m netmon.cli"
#: Long-running commands log progress at INFO; interactive ones keep the terminal for their output.
SERVICE_COMMANDS = frozenset({"run", "demo", "lab", "agent"})
#: Usage errors (a bad option, a missing argument) have their own exit code: argparse's 2 is "down".
USAGE_EXIT = 3


#: argparse's own error messages (Python 3.11 wording), in Vietnamese; the option names stay as typed.
_ARGPARSE_VI = (
    (r"^the following arguments are required: (.*)$", r"thiếu tham số bắt buộc: \1"),
    (r"^unrecognized arguments: (.*)$", r"tham số không nhận ra: \1"),
    (r"^argument (\S+): invalid choice: (.*) \(choose from (.*)\)$",
     r"tham số \1: lựa chọn không hợp lệ \2 (chọn một trong \3)"),
    (r"^argument (\S+): expected one argument$", r"tham số \1: cần một giá trị"),
    (r"^argument (\S+): invalid \S+ value: (.*)$", r"tham số \1: giá trị không hợp lệ \2"),
    (r"^argument (\S+): (.*)$", r"tham số \1: \2"),
)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit `USAGE_EXIT`, in the user's language; subcommand
    parsers inherit it."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        if i18n.lang() == "vi":
            for pattern, replacement in _ARGPARSE_VI:
                if re.match(pattern, message):
                    message = re.sub(pattern, replacement, message)
                    break
            self.exit(USAGE_EXIT, f"{self.prog}: lỗi: {message}\n")
        self.exit(USAGE_EXIT, f"{self.prog}: error: {message}\n")

    def _get_formatter(self) -> argparse.HelpFormatter:
        """argparse's formatter, whose "usage: " (in errors and in ``--help``) speaks the user's language."""
        formatter = super()._get_formatter()
        if i18n.lang() == "vi":
            add = formatter.add_usage
            formatter.add_usage = (  # type: ignore[method-assign]
                lambda usage, actions, groups, prefix=None:
                add(usage, actions, groups, "cách dùng: " if prefix is None else prefix))
        return formatter


def _global_options(parser: argparse.ArgumentParser, default: bool) -> None:
    """``--lang`` and ``--log-level``, accepted before or after the subcommand: on subcommands they
    default to SUPPRESS, so an absent option there never hides one given before the subcommand."""
    parser.add_argument("--lang", choices=("en", "vi"), default=None if default else argparse.SUPPRESS,
                        help="language of verdicts, summaries and reports (default: $NETMON_LANG or en)")
    level = os.environ.get("NETMON_LOG_LEVEL") if default else argparse.SUPPRESS
    parser.add_argument("--log-level", default=level,
                        help="DEBUG, INFO, WARNING or ERROR (default: INFO for services, WARNING for "
                             "interactive commands)")


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``parser`` (subcommands and their own subcommands, e.g. `lab up`)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI; with ``only`` (a command named on the command line) just that command's module is
    imported: `netmon agent run` on a center's 50 MB box must not load the report, the lab and the
    web server the other commands need (they were ~10 MB of the agent's RSS, bench/agent_memory.py)."""
    parser = Parser(
        prog="netmon",
        description="Link, service and equipment monitoring for Son La's commune service centers.",
    )
    parser.add_argument("--version", action="version", version=f"netmon {__version__}")
    _global_options(parser, default=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [only] if only else command_names():
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    for child in _subparsers(parser):
        _global_options(child, default=False)
    if i18n.lang() == "vi":
        help_vi.translate([parser, *_subparsers(parser)])
    return parser


def command_names() -> list[str]:
    """Each module of netmon.commands registers the command of its name."""
    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__))


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word that is no global option or option value), if known."""
    words = iter(argv)
    for arg in words:
        if arg in ("--lang", "--log-level"):
            next(words, None)
        elif not arg.startswith("-"):
            return arg if arg in command_names() else None
    return None


def _lang_in(argv: Sequence[str]) -> str | None:
    """``--lang``'s value before parsing, so that argparse's own errors speak it too."""
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one netmon command. ``--lang`` reaches the code below through NETMON_LANG (read where text
    is worded); the caller's value is put back on return, so a program or test calling `main` in
    Vietnamese does not leave everything after it — and every netmon it starts — speaking Vietnamese."""
    before = os.environ.get("NETMON_LANG")
    try:
        return _main(argv)
    finally:
        if before is None:
            os.environ.pop("NETMON_LANG", None)
        else:
            os.environ["NETMON_LANG"] = before


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    early = _lang_in(words)
    if early in ("en", "vi"):
        os.environ["NETMON_LANG"] = early  # before the parser is built: its help speaks it too
    parser = build_parser(_command_in(words))
    args = parser.parse_args(argv)
    if args.lang:
        os.environ["NETMON_LANG"] = args.lang
    service = args.command in SERVICE_COMMANDS
    level = args.log_level or ("INFO" if service else "WARNING")
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request at INFO: noise in a service log, and a secret leak risk in URLs.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return USAGE_EXIT
    try:
        return int(args.func(args) or 0)
    except NetmonError as exc:
        print(f"netmon: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`netmon lab status | head`): stop quietly like any filter, with stdout
        # pointed at /dev/null so the interpreter's last flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
