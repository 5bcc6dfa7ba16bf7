"""`token-budget assemble --session ID`: what a stored session's next turn will send,
from the same builder the window's preview and `chat` use. Reads the database only:
no network (the window a server serves is the one learned and stored earlier)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from desktop_app.cli import CliError

PREVIEW_CHARS = 70


def request_json(ctx: Any, request: Any) -> dict[str, Any]:
    out = request.to_dict()
    out["session"] = ctx.session.id if ctx.session else None
    out["model"] = ctx.model.name
    out["strategy"] = ctx.strategy.kind
    out["profile"] = ctx.profile.name
    out["window"] = {"tokens": ctx.window.tokens, "source": str(ctx.window.source),
                     "provider": ctx.window.provider}
    out["sections"] = [{"component": str(c), "role": m.get("role"), "tokens": n}
                       for c, m, n in request.sections]
    return out


def print_request(ctx: Any, request: Any) -> None:
    """The request as a person reads it: one line per message with its tokens."""
    from desktop_app.core.text import format_tokens

    print(f"session {ctx.session.id}: {ctx.model.name}, {ctx.profile.name}, "
          f"{ctx.strategy.label}; window {ctx.window.describe()}")
    for component, message, tokens in request.sections:
        text = " ".join(str(message.get("content", "")).split())
        text = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
        print(f"{format_tokens(tokens):>8}  {str(component):<14} {message.get('role', ''):<9} "
              f"{text}")
    sign = "" if request.exact else "~"
    print(f"{sign}{request.tokens:,} tokens sent, {request.max_tokens:,} kept for the reply")


def cmd_assemble_session(args: argparse.Namespace) -> int:
    from desktop_app.commands.io import open_store, read_text_input
    from desktop_app.services.connection import chosen_provider
    from desktop_app.services.request import load_context, next_request
    from desktop_app.services.windows import WindowResolver

    if args.messages:
        raise CliError("give --messages or --session, not both")
    if args.input is not None and args.input_file:
        raise CliError("give --input or --input-file, not both")
    draft = read_text_input(args.input_file) if args.input_file else (args.input or "")
    with open_store(getattr(args, "data_dir", None)) as db:
        session = db.sessions.get(args.session)
        resolver = WindowResolver.from_store(db)
        provider = chosen_provider(db, session.model)  # as the window and `chat` choose
        ctx = load_context(db, session.id, draft, lambda n: resolver.model(n, provider))
        request = next_request(ctx)
    if args.json:
        print(json.dumps(request_json(ctx, request), indent=2, ensure_ascii=False))
    else:
        print_request(ctx, request)
    for w in request.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not request.fits:
        print(f"token-budget: {request.problem}", file=sys.stderr)
        return 1
    return 0
