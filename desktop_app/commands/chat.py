"""`token-budget chat`: one full turn through the same services as the window: the one
request builder, the turn with its typed outcome, then the summary and memory brought
up to date."""

from __future__ import annotations

import argparse
import sys

from desktop_app.cli import CliError
from desktop_app.commands.io import argument_text, connect_for, open_store, read_text_input


def cmd_chat(args: argparse.Namespace) -> int:
    from desktop_app.core.records import Session
    from desktop_app.services.folding import fold_after_reply
    from desktop_app.services.turn import Outcome, run_turn
    from desktop_app.services.windows import WindowResolver

    message = argument_text(" ".join(args.message), "the message").strip()
    if message == "-":  # bounded and checked as every command's standard input
        message = read_text_input("-").strip()
    args.system = argument_text(args.system, "--system")
    args.model = argument_text(args.model, "--model")
    if not message:
        raise CliError("nothing to send: give a message (or - to read it from standard input)")
    if args.provider and args.base_url:
        raise CliError("give --provider or --base-url, not both")

    def warn(text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    with open_store(args.data_dir) as db:  # a store error anywhere: one line
        if args.session is not None:
            session = db.sessions.get(args.session)
            if args.model and args.model != session.model:
                session = db.sessions.change(session.id, model=args.model)
        else:
            if not args.model:
                raise CliError("--model is required for a new session")
            title = message[:60] + ("…" if len(message) > 60 else "")
            session = db.sessions.create(Session(title=title, model=args.model,
                                                 profile=args.profile or "default",
                                                 strategy=args.strategy or "token_window",
                                                 system_prompt=args.system or ""))
            print(f"session {session.id}", file=sys.stderr, flush=True)
        model = session.model
        # the provider and window are chosen as the window chooses them: the provider
        # that lists the model (else the default one); the catalog's window, the
        # provider's setting, and never more than the server serves
        resolver = WindowResolver.from_store(db)
        provider, connection = connect_for(db, model, args)
        learned = resolver.learn(connection.provider, model, connection.served)
        counting = connection.counting
        if counting is not None:
            learned = resolver.learn_counting(connection.provider, model, counting.tokenizer,
                                              counting.template) or learned
        if learned and not args.base_url:
            resolver.save(db)

        def resolve(name: str):
            return resolver.model(name, provider)

        def chunk(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        try:
            outcome = run_turn(db, connection.client, session.id, message, resolve,
                               on_chunk=chunk, on_notice=warn)
            sample = outcome.framing_sample
            if (sample and resolver.learn_framing(connection.provider, model, *sample)
                    and not args.base_url):
                resolver.save(db)
            if outcome.reply is not None and outcome.reply.content:
                sys.stdout.write("\n")
            if outcome.user_stored:
                folded = fold_after_reply(db, session.id, resolve, connection.client)
                for text in folded.notices:
                    warn(text)
        finally:
            connection.client.close()
        if outcome.outcome is Outcome.FAILED:
            raise CliError(outcome.reason)
        if outcome.outcome is not Outcome.COMPLETED:
            why = f": {outcome.reason}" if outcome.reason else ""
            raise CliError(f"the reply was cut off{why}; what arrived is stored "
                           "(retry from the window)")
        reply = outcome.reply
        if reply is not None and reply.prompt_tokens is not None and outcome.request:
            cost = f", ${reply.cost:.4f}" if reply.cost else ""
            cached = outcome.cached_prompt_tokens
            of_which = f" ({cached} of them cached)" if cached is not None else ""
            print(f"usage: {reply.prompt_tokens} prompt{of_which} + "
                  f"{reply.completion_tokens or 0} completion tokens (we counted "
                  f"{outcome.request.tokens} prompt){cost}", file=sys.stderr)
        return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from desktop_app.core.history import STRATEGIES

    p = subparsers.add_parser(
        "chat", help="send one message and stream the reply",
        description="Run one full turn through the same services as the window: build the "
        "request under the session's profile and strategy, stream the reply to standard "
        "output, store it, then bring the summary and memory up to date. Warnings go to "
        "standard error.")
    p.add_argument("message", nargs="+", help="the message (or - for standard input)")
    p.add_argument("--session", type=int, help="continue this session (default: a new one)")
    p.add_argument("--model", "-m", help="the model (required for a new session)")
    p.add_argument("--provider", help="a provider set up in Settings, by name")
    p.add_argument("--base-url", help="any OpenAI-compatible server, e.g. http://localhost:11434/v1"
                   " (its key, if any, from TOKEN_BUDGET_API_KEY)")
    p.add_argument("--profile",
                   help="allocation profile for a new session (default: default)")
    p.add_argument("--strategy", choices=STRATEGIES,
                   help="history strategy for a new session (default: token_window)")
    p.add_argument("--system", help="system prompt for a new session")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS,
                   help="folder for the database")
    p.set_defaults(func=cmd_chat)
