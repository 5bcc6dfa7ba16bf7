"""`token-budget sessions`, `export`, `import` and `restore-backup`: the database from the
command line. All honour the global --data-dir."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.commands.io import open_store, store_errors
from desktop_app.commands.terminal import json_terminal_safe, terminal_safe

if TYPE_CHECKING:
    from desktop_app.core.records import Session
    from desktop_app.store import Database


def _fill_missing_counts(db: Database, sessions: list[Session]) -> bool:
    """Count (once, then cached) messages with no count for their session's encoding."""
    from desktop_app.core.catalog import lookup_model
    from desktop_app.core.tokens import count_text

    encodings = {s.id: lookup_model(s.model).encoding for s in sessions if s.id is not None}
    counts = {mid: {encoding: count_text(text, encoding)}
              for mid, text, encoding in db.messages.missing_counts_for(encodings)}
    db.messages.save_token_counts_many(counts)  # one read and one write, however many
    return bool(counts)


def _cmd_sessions(args: argparse.Namespace) -> int:
    from desktop_app.core.catalog import lookup_model

    with open_store(args.data_dir, read_only_ok=True) as db:
        sessions = db.sessions.list(include_archived=args.archived)
        # on read-only media missing counts cannot be cached: totals are what is stored
        if not db.read_only and _fill_missing_counts(db, sessions):
            sessions = db.sessions.list(include_archived=args.archived)
    if args.json:
        rows = [
            {
                "id": s.id,
                "title": s.title,
                "model": s.model,
                "messages": s.message_count,
                "tokens": s.token_total,
                "exact": lookup_model(s.model).exact,
                "archived": s.archived,
                "updated_at": s.updated_at.isoformat() if s.updated_at else None,
            }
            for s in sessions
        ]
        print(json_terminal_safe(json.dumps(rows, indent=2, ensure_ascii=False)))
        return 0
    if not sessions:
        print("no sessions yet")
        return 0
    table = [("ID", "MESSAGES", "TOKENS", "MODEL", "UPDATED", "TITLE")]
    for s in sessions:
        approx = "" if lookup_model(s.model).exact else "~"
        # what a file or a model put in a title must not drive the terminal
        title = terminal_safe(s.title, keep="") + (" [archived]" if s.archived else "")
        updated = f"{s.updated_at:%Y-%m-%d %H:%M}" if s.updated_at else ""
        table.append(
            (
                str(s.id),
                f"{s.message_count:,}",
                f"{approx}{s.token_total:,}",
                terminal_safe(s.model, keep=""),
                updated,
                title,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [
            cell.rjust(w) if i < 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        print("  ".join([*cells, row[-1]]).rstrip())
    if any(not lookup_model(s.model).exact for s in sessions):
        print("~ estimated: that model's own tokenizer is not available offline", file=sys.stderr)
    return 0


def _export_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    return "md" if str(args.output).lower().endswith((".md", ".markdown")) else "json"


def _cmd_export(args: argparse.Namespace) -> int:
    from desktop_app.store.transfer import render_export, write_export

    fmt = _export_format(args)
    ids = None if args.all else args.session
    with open_store(args.data_dir, read_only_ok=True) as db:  # export works from read-only media
        for session_id in ids or []:
            db.sessions.get(session_id)  # a clear "there is no session N" before writing
        if args.output == "-":
            text = render_export(db, fmt, ids)
            safe = json_terminal_safe if fmt == "json" else terminal_safe
            sys.stdout.write(safe(text))
            return 0
        write_export(db, Path(args.output), fmt, ids)
        count = len(ids) if ids is not None else len(db.sessions.list(include_archived=True))
    print(f"exported {count} session{'s' * (count != 1)} to {args.output}", file=sys.stderr)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from desktop_app.store.transfer import import_file

    # a bar on stderr only when it is a terminal: a pipe or a log gets the summary line
    with tqdm(total=0, unit="B", unit_scale=True, desc="importing", file=sys.stderr,
              disable=not sys.stderr.isatty(), leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        with open_store(args.data_dir) as db:
            result = import_file(db, Path(args.file), again=args.again, progress=progress)
    print(result.summary_line(args.file))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.already:
        print("note: --again imports them once more, as new sessions", file=sys.stderr)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    """The full integrity check a start skips on a large file (it reads every page)."""
    with open_store(args.data_dir, read_only_ok=True) as db:
        print(f"checking {db.path} ({db.path.stat().st_size / 1e6:,.0f} MB)…", file=sys.stderr)
        problems = db.check(full=not args.quick)
    if problems:
        for line in problems[:50]:
            print(terminal_safe(line, keep=""))
        print("the database has problems; `token-budget restore-backup` puts the newest "
              "backup in its place (the damaged file is kept aside)", file=sys.stderr)
        return 1
    print("ok: the database is sound")
    return 0


def _cmd_restore_backup(args: argparse.Namespace) -> int:
    from desktop_app.store import restore_newest_backup

    with store_errors():
        result = restore_newest_backup(args.data_dir, replace_healthy=args.replace_healthy)
    print(result.message())
    return 0


def _add(
    subparsers: argparse._SubParsersAction,
    name: str,
    func: Callable[[argparse.Namespace], int],
    summary: str,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=summary, description=summary)
    parser.set_defaults(func=func)
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    p = _add(subparsers, "sessions", _cmd_sessions, "list sessions with ids, messages and tokens")
    p.add_argument("--archived", action="store_true", help="include archived sessions")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = _add(subparsers, "export", _cmd_export, "export sessions to JSON or Markdown")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--session", type=int, action="append", metavar="ID", help="a session id (repeatable)"
    )
    which.add_argument("--all", action="store_true", help="every session and the global memory")
    p.add_argument(
        "--format", choices=("json", "md"), help="default: from the file name, else json"
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="file to write, - for stdout"
    )

    p = _add(
        subparsers,
        "import",
        _cmd_import,
        "import a Token Budget JSON export or a ChatGPT conversations.json (or its zip)",
    )
    p.description = (
        "Import a Token Budget JSON export or a ChatGPT conversations.json (or the zip it "
        "comes in), all or nothing. A conversation imported before is recognised and "
        "skipped, and said so; --again imports it once more.")
    p.add_argument("file", metavar="FILE",
                   help="the file to import: .json, .tokenbudget or ChatGPT's .zip export")
    p.add_argument("--again", action="store_true",
                   help="import conversations even when they were imported before")

    p = _add(subparsers, "check", _cmd_check,
             "check the whole database file for damage (a start checks a large file weekly)")
    p.add_argument("--quick", action="store_true",
                   help="PRAGMA quick_check instead of the full integrity_check (faster)")

    p = _add(
        subparsers,
        "restore-backup",
        _cmd_restore_backup,
        "replace a damaged database with its newest backup (the current file is kept aside)",
    )
    p.add_argument(
        "--replace-healthy",
        action="store_true",
        help="replace the database even though it is not damaged (it is backed up first)",
    )
