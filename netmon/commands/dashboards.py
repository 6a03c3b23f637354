"""`netmon dashboards build [--check]` and `netmon dashboards push --url URL --token-file FILE`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netmon import oswording
from netmon.i18n import Lang, lang, text

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "dashboards"
_TEXT = {
    "stale": ("{file}: stale; run `netmon dashboards build`",
              "{file}: đã cũ; hãy chạy `netmon dashboards build`"),
    "fresh": ("{dir}: dashboards up to date", "{dir}: các bảng theo dõi đã khớp với mã nguồn"),
    "wrote": ("wrote {file}", "đã ghi {file}"),
    "differ": ("warning: {files} differ from the code; pushing the files as they are",
               "cảnh báo: {files} khác với mã nguồn; vẫn đẩy lên các tệp như hiện có"),
    "grafana": ("Grafana {version} at {url}: folder {folder} ({state})",
                "Grafana {version} tại {url}: thư mục {folder} ({state})"),
    "created": ("created", "mới tạo"),
    "existing": ("existing", "đã có"),
    "version": ("  {uid}: version {version}", "  {uid}: phiên bản {version}"),
    "unwritable": ("netmon: cannot write {file} ({reason}); --dir names another output directory",
                   "netmon: không ghi được {file} ({reason}); --dir chỉ định thư mục ghi khác"),
    "unreadable": ("netmon: cannot read {file} ({reason}); --dir names the directory `netmon dashboards "
                   "build` wrote", "netmon: không đọc được {file} ({reason}); --dir phải là thư mục mà "
                   "`netmon dashboards build` đã ghi"),
}


def _file_error(key: str, exc: OSError, language: Lang) -> int:
    """A dashboards file that cannot be written or read, named with the OS's reason (the default
    directory is the installed package's, which a user other than its owner cannot write)."""
    why = oswording.error(exc, language)
    print(text(_TEXT, key, language, file=exc.filename, reason=why), file=sys.stderr)
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboards", help="generate the Grafana dashboards, or upload them to a Grafana")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = actions.add_parser("build", help="write dashboards/*.json from netmon/dashboards (the code)")
    b.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="output directory (default: dashboards/)")
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 if the JSON is stale")
    b.set_defaults(func=build)
    u = actions.add_parser("push", help="upload the dashboards to Grafana (idempotent: updates by uid)")
    u.add_argument("--url", required=True, help="Grafana base URL, e.g. http://127.0.0.1:3000")
    u.add_argument("--token-file", type=Path, required=True,
                   help="file holding a service-account token (Editor role)")
    u.add_argument("--folder", default=None, help="folder to put them in (default: Sơn La netmon)")
    u.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                   help="dashboards directory (default: dashboards/)")
    u.set_defaults(func=push)


def build(args: argparse.Namespace) -> int:
    from netmon.dashboards import stale, write_all

    language = lang(getattr(args, "lang", None))
    if args.check:
        outdated = stale(args.dir)
        for name in outdated:
            print(text(_TEXT, "stale", language, file=args.dir / name), file=sys.stderr)
        if not outdated:
            print(text(_TEXT, "fresh", language, dir=args.dir))
        return 1 if outdated else 0
    try:
        written = write_all(args.dir)
    except OSError as exc:
        return _file_error("unwritable", exc, language)
    for path in written:
        print(text(_TEXT, "wrote", language, file=path))
    return 0


def push(args: argparse.Namespace) -> int:
    from netmon.dashboards import load_all, stale
    from netmon.dashboards.push import DEFAULT_FOLDER, Pusher, read_token

    language = lang(getattr(args, "lang", None))
    pusher = Pusher(args.url, read_token(args.token_file))
    try:
        boards = load_all(args.dir)
    except OSError as exc:
        return _file_error("unreadable", exc, language)
    if outdated := stale(args.dir):
        print(text(_TEXT, "differ", language, files=", ".join(outdated)), file=sys.stderr)
    report = pusher.push(boards, args.folder or DEFAULT_FOLDER)
    state = text(_TEXT, "created" if report.folder_created else "existing", language)
    print(text(_TEXT, "grafana", language, version=report.version, url=pusher.url, folder=report.folder_uid,
               state=state))
    for uid, version in report.dashboards:
        print(text(_TEXT, "version", language, uid=uid, version=version))
    return 0
