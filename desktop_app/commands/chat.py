"""`token-budget chat`: one full turn through the same pipeline as the window."""

from __future__ import annotations

import argparse
import sys

from desktop_app.cli import CliError


def cmd_chat(args: argparse.Namespace) -> int:
    from desktop_app.controller.clients import ConnectionSetupError, connect
    from desktop_app.controller.turn import TurnError, TurnPipeline
    from desktop_app.core.records import Session
    from desktop_app.store import open_database
    from desktop_app.store.errors import StoreError

    message = " ".join(args.message).strip()
    if message == "-":
        message = sys.stdin.read().strip()
    if not message:
        raise CliError("nothing to send: give a message (or - to read it from standard input)")
    if args.provider and args.base_url:
        raise CliError("give --provider or --base-url, not both")

    def warn(text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    try:
        db = open_database(args.data_dir)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        if args.session is not None:
            try:
                session = db.sessions.get(args.session)
            except StoreError as exc:
                raise CliError(str(exc)) from None
            model = args.model or session.model
            if args.model and args.model != session.model:
                session.model = args.model
                db.sessions.update(session)
        else:
            model = args.model
            if not model:
                raise CliError("--model is required for a new session")
            title = message[:60] + ("…" if len(message) > 60 else "")
            session = db.sessions.create(Session(title=title, model=model,
                                                 profile=args.profile or "default",
                                                 strategy=args.strategy or "token_window",
                                                 system_prompt=args.system or ""))
            print(f"session {session.id}", file=sys.stderr, flush=True)
        try:
            connection = connect(db, model, provider=args.provider, base_url=args.base_url)
        except ConnectionSetupError as exc:
            raise CliError(str(exc)) from None
        if connection is None:
            raise CliError("no model is set up: pass --base-url URL or --provider NAME, "
                           "or set OPENAI_API_KEY")
        for w in connection.warnings:
            warn(w)
        pipeline = TurnPipeline(db, connection.client, connection.context_window)

        def chunk(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        try:
            result = pipeline.run_turn(session.id, message, on_chunk=chunk, on_notice=warn)
        except TurnError as exc:
            if exc.reply is not None and exc.reply.content:
                sys.stdout.write("\n")
            raise CliError(exc.message) from None
        finally:
            connection.client.close()
        sys.stdout.write("\n")
        reply = result.reply
        if reply.status == "interrupted":
            raise CliError(f"the reply was cut off{': ' + reply.error if reply.error else ''}; "
                           "what arrived is stored (retry from the window)")
        if reply.prompt_tokens is not None:
            cost = f", ${reply.cost:.4f}" if reply.cost else ""
            print(f"usage: {reply.prompt_tokens} prompt + {reply.completion_tokens or 0} "
                  f"completion tokens (we counted {result.request.tokens} prompt){cost}",
                  file=sys.stderr)
        return 0
    finally:
        db.close()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("chat", help="send one message and stream the reply")
    p.add_argument("message", nargs="+", help="the message (or - for standard input)")
    p.add_argument("--session", type=int, help="continue this session (default: a new one)")
    p.add_argument("--model", "-m", help="the model (required for a new session)")
    p.add_argument("--provider", help="a provider set up in Settings, by name")
    p.add_argument("--base-url", help="any OpenAI-compatible server, e.g. http://localhost:11434/v1"
                   " (its key, if any, from TOKEN_BUDGET_API_KEY)")
    p.add_argument("--profile", help="allocation profile for a new session")
    p.add_argument("--strategy", help="history strategy for a new session")
    p.add_argument("--system", help="system prompt for a new session")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS,
                   help="folder for the database")
    p.set_defaults(func=cmd_chat)
