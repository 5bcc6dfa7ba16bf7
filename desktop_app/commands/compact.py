"""`token-budget compact --session ID [--focus TEXT]`: Compact now from the command line.
The session's older history is folded into its rolling summary by the same service the
window's Summary tab uses (services.compaction): by the model when one is set up (the
default provider, --provider or --base-url), else offline."""

from __future__ import annotations

import argparse
import sys

from desktop_app.cli import CliError
from desktop_app.commands.io import open_store


def cmd_compact(args: argparse.Namespace) -> int:
    from desktop_app.core.budget import Component
    from desktop_app.core.text import format_tokens
    from desktop_app.services.compaction import KEEP_RECENT, compact_now
    from desktop_app.services.connection import (
        ConnectionSetupError,
        chosen_provider,
        connect,
    )
    from desktop_app.services.windows import WindowResolver

    if args.provider and args.base_url:
        raise CliError("give --provider or --base-url, not both")
    if args.offline and (args.provider or args.base_url):
        raise CliError("give --offline or a model to ask (--provider, --base-url), not both")
    keep = KEEP_RECENT if args.keep is None else args.keep
    if keep < 0:
        raise CliError("--keep must be 0 or more")

    def warn(text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    with open_store(args.data_dir) as db:
        model = db.sessions.get(args.session).model
        resolver = WindowResolver.from_store(db)
        try:
            provider = chosen_provider(db, model, provider=args.provider,
                                       base_url=args.base_url)
        except ConnectionSetupError as exc:
            raise CliError(str(exc)) from None
        connection = None
        if not args.offline:
            try:
                connection = connect(db, model, base_url=args.base_url,
                                     provider=None if args.base_url or provider is None
                                     else provider.name, discover=False)
            except ConnectionSetupError as exc:
                if args.provider or args.base_url:
                    raise CliError(str(exc)) from None
                warn(f"{exc}; compacting offline")
        if connection is not None:
            for w in connection.warnings:
                warn(w)
        client = connection.client if connection is not None else None
        try:
            result = compact_now(db, args.session, lambda n: resolver.model(n, provider),
                                 client, focus=args.focus or "", keep=keep)
        finally:
            if client is not None:
                client.close()
    for text in result.notices:
        if text != result.describe():
            warn(text)
    if not result.done:
        print(result.describe())
        return 0
    summary = result.summary
    assert summary is not None
    print(result.describe())
    ids = [m.id for m in result.folded]
    print(f"folded: {len(ids)} messages (ids {ids[0]}–{ids[-1]})" if ids else "folded: none")
    by = f"the model ({summary.model})" if summary.method == "model" else "offline (extractive)"
    print(f"summary: {format_tokens(result.change(Component.SUMMARY)[1])} tokens in the "
          f"request, written {by}" + (f", focus: {result.focus}" if result.focus else ""))
    print(f"history: {format_tokens(result.change(Component.HISTORY)[0])} → "
          f"{format_tokens(result.change(Component.HISTORY)[1])} tokens")
    print(f"freed: {format_tokens(result.freed)} tokens in the next request")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compact", help="fold a session's older history into its rolling summary now")
    p.add_argument("--session", type=int, required=True, help="the session to compact")
    p.add_argument("--focus", help='what the summary must keep above all, e.g. "every '
                                   'decision about the budget"')
    p.add_argument("--keep", type=int, metavar="N",
                   help="the newest messages to leave as they are (default: 4)")
    p.add_argument("--provider", help="a provider set up in Settings, by name")
    p.add_argument("--base-url", help="any OpenAI-compatible server, e.g. http://localhost:11434/v1"
                   " (its key, if any, from TOKEN_BUDGET_API_KEY)")
    p.add_argument("--offline", action="store_true",
                   help="summarize offline (extractive) even when a model is set up")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS,
                   help="folder for the database")
    p.set_defaults(func=cmd_compact)
