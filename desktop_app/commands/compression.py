"""`compress` and `chunk`: the optimizer and the progressive-loading chunker on files.
Offline; token counts use the model's encoding (or the fallback, with a warning)."""

from __future__ import annotations

import argparse
import json
import sys

from desktop_app.cli import CliError
from desktop_app.commands.drafting import DEFAULT_MODEL, resolve_model
from desktop_app.commands.io import read_text_input
from desktop_app.core.optimize import (
    LEVELS,
    OptimizeError,
    boundary_filter,
    chunk_by_tokens,
    compress,
    select_relevant,
)


def _read_nonempty(path: str) -> str:
    text = read_text_input(path)
    if not text.strip():
        name = "standard input" if path == "-" else path
        raise CliError(f"{name}: empty input, nothing to work on")
    return text


def _positive(value: int | None, option: str) -> None:
    if value is not None and value <= 0:
        raise CliError(f"{option} must be a positive number of tokens, got {value}")


# --- compress ----------------------------------------------------------------------------
def cmd_compress(args: argparse.Namespace) -> int:
    _positive(args.target, "--target")
    model = resolve_model(args.model)
    text = _read_nonempty(args.file)
    try:
        result = compress(text, args.target, model.encoding, args.level)
    except OptimizeError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps({
            "text": result.text, "level": result.level, "fits": result.fits,
            "tokens_before": result.tokens_before, "tokens_after": result.tokens_after,
            "target": result.target_tokens, "ratio": round(result.ratio, 4),
            "truncated": result.truncated, "message": result.message,
            "retention": round(result.retention, 4), "key_items": result.key_items,
            "lost": list(result.lost), "warning": result.loss_warning,
            "model": model.name, "encoding": model.encoding, "exact": model.exact,
        }, ensure_ascii=False, indent=2))
    else:
        print(result.text)
        kept = (f", keeps {result.retention:.0%} of {result.key_items} key items"
                if result.key_items else "")
        print(f"{model.name} · {model.encoding} · {result.level}: {result.tokens_before} -> "
              f"{result.tokens_after} tokens (target {result.target_tokens}){kept}",
              file=sys.stderr)
    if not result.fits:
        print(f"token-budget: does not fit: {result.message}", file=sys.stderr)
        return 1
    if result.truncated:
        print(f"note: {result.message}", file=sys.stderr)
    if result.loss_warning:
        print(f"warning: {result.loss_warning}", file=sys.stderr)
    return 0


# --- chunk -------------------------------------------------------------------------------
def cmd_chunk(args: argparse.Namespace) -> int:
    _positive(args.tokens, "--tokens")
    if args.overlap < 0:
        raise CliError(f"--overlap cannot be negative, got {args.overlap}")
    if args.budget is not None and args.query is None:
        raise CliError("--budget needs --query (the budget keeps the chunks most relevant to it)")
    if args.budget is not None and args.budget < 0:
        raise CliError(f"--budget cannot be negative, got {args.budget}")
    if args.query is not None and not args.query.strip():
        raise CliError("--query is empty")
    model = resolve_model(args.model)
    text = _read_nonempty(args.file)
    try:
        chunks = chunk_by_tokens(text, args.tokens, args.overlap, model.encoding)
        if args.query is None:
            shown = [(c, None, None) for c in chunks]
        else:
            scored = (
                select_relevant(chunks, args.query, args.budget, threshold=args.threshold)
                if args.budget is not None
                else boundary_filter(chunks, args.query, args.threshold)
            )
            shown = [(s.chunk, s.score, s.relevance) for s in scored]
    except OptimizeError as exc:
        raise CliError(str(exc)) from None
    total = chunks[-1].end_token if chunks else 0
    used = sum(c.tokens for c, _, _ in shown)
    cut = [c.index + 1 for c in chunks if not c.whole_words]
    if args.json:
        print(json.dumps({
            "model": model.name, "encoding": model.encoding, "tokens": total,
            "chunk_tokens": args.tokens, "overlap": args.overlap, "count": len(chunks),
            "query": args.query, "budget": args.budget, "selected_tokens": used,
            "chunks": [
                {"index": c.index, "start_token": c.start_token, "end_token": c.end_token,
                 "tokens": c.tokens, "whole_words": c.whole_words, "text": c.text}
                | ({} if score is None else {"score": round(score, 4),
                                             "relevance": round(relevance, 4)})
                for c, score, relevance in shown
            ],
        }, ensure_ascii=False, indent=2))
    else:
        for c, score, relevance in shown:
            extra = "" if score is None else f", relevance {relevance:.2f}"
            print(f"--- chunk {c.index + 1}/{len(chunks)} · tokens {c.start_token}-{c.end_token}"
                  f" ({c.tokens}{extra}) ---")
            print(c.text)
    summary = f"{len(chunks)} chunks of up to {args.tokens} tokens, overlap up to " \
              f"{args.overlap}, from {total} tokens ({model.encoding})"
    if args.query is not None:
        limit = "" if args.budget is None else f" of a {args.budget}-token budget"
        summary += f"; kept {len(shown)} relevant to the query: {used} tokens{limit}"
    print(summary, file=sys.stderr)
    if cut:
        print(f"note: a word longer than {args.tokens} tokens had to be cut inside "
              f"(chunk {', '.join(map(str, cut[:10]))}{', …' if len(cut) > 10 else ''})",
              file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compress", help="compress a text to a token target",
        description="Compress a text to at most --target tokens with the lightest level "
        "that gets there (or the --level you choose). Instructions and constraints are kept "
        "first, whole; the result says how many of the text's key items (instructions, "
        "numbers, names) it keeps, and warns when the target forces it to drop some. The "
        "text goes to standard output, the counts and warnings to standard error. Exit "
        "status 1 when the target cannot be reached.",
    )
    p.add_argument("file", nargs="?", default="-",
                   help="text file, or - for standard input")
    p.add_argument("--target", "-t", type=int, required=True, metavar="TOKENS",
                   help="the most tokens to keep (required)")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL,
                   help="whose encoding counts tokens (see `token-budget models`)")
    p.add_argument("--level", "-l", default="auto", choices=("auto", *LEVELS),
                   help="auto picks the lightest level that reaches the target; format, "
                   "restructure, keypoints and summarize are lightest to strongest")
    p.add_argument("--json", action="store_true",
                   help="the result, its counts and what it lost as JSON")
    p.set_defaults(func=cmd_compress)

    p = subparsers.add_parser(
        "chunk", help="split a text into token chunks, optionally keeping the relevant ones",
        description="Split a text into chunks of at most --tokens tokens, cut at the end of "
        "a sentence when one is near and otherwise between words, each starting up to "
        "--overlap tokens before the previous one ended. With --query, keep the chunks "
        "relevant to it (BM25), and with --budget only the most relevant that fit in that "
        "many tokens.",
    )
    p.add_argument("file", nargs="?", default="-",
                   help="text file, or - for standard input")
    p.add_argument("--tokens", "-n", type=int, required=True,
                   help="the most tokens per chunk (required)")
    p.add_argument("--overlap", "-k", type=int, default=0,
                   help="the most tokens a chunk shares with the one before")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL,
                   help="whose encoding counts tokens (see `token-budget models`)")
    p.add_argument("--query", "-q", help="keep only the chunks relevant to this")
    p.add_argument("--budget", "-b", type=int,
                   help="tokens the kept chunks may use, most relevant first (needs --query)")
    p.add_argument("--threshold", type=float, default=0.0,
                   help="with --query, admit only chunks whose relevance (0..1, best = 1) is "
                   "above this")
    p.add_argument("--json", action="store_true", help="the chunks and their spans as JSON")
    p.set_defaults(func=cmd_chunk)
