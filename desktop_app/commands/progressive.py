"""`token-budget progressive`: a document too large for the window, run through the model
part by part with running notes, then combined into one answer (services/progressive.py).
Progress on standard error, the answer on standard output; the run is saved after every
part and continues with --resume."""

from __future__ import annotations

import argparse
import sys

from desktop_app.cli import CliError
from desktop_app.commands.io import connect_for, open_store, read_text_input
from desktop_app.commands.terminal import terminal_safe


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def read_input(file: str) -> str:
    """The document's text: a PDF's through services.documents (bounded, one line when it
    cannot be read), anything else as the other commands read text."""
    from desktop_app.services.documents import DocumentError, is_pdf, read_document

    if file != "-" and is_pdf(file):
        try:
            return read_document(file).text
        except DocumentError as exc:
            raise CliError(str(exc)) from None
    return read_text_input(file)


def cmd_progressive(args: argparse.Namespace) -> int:
    from desktop_app.core.cancel import CancelToken
    from desktop_app.services.progressive import (
        Progress,
        ProgressiveError,
        load_state,
        run_progressive,
        start_run,
    )
    from desktop_app.services.windows import WindowResolver

    if args.provider and args.base_url:
        raise CliError("give --provider or --base-url, not both")
    if not args.resume and not (args.task or "").strip():
        raise CliError("give the task with --task \"...\" (what to find or do with the file)")
    text = read_input(args.file)

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    with open_store(args.data_dir) as db:
        data_dir = db.data_dir
        state = None
        if args.resume:
            try:
                state = load_state(data_dir, args.resume)
            except ProgressiveError as exc:
                raise CliError(str(exc)) from None
            if args.task and args.task.strip() != state.task:
                raise CliError(f"run {state.id} has the task {state.task!r}; leave --task "
                               "out to resume it, or start a new run")
            if args.model and args.model != state.model:
                raise CliError(f"run {state.id} runs on {state.model}; leave --model out to "
                               "resume it, or start a new run")
            model = state.model
        else:
            if not args.model:
                raise CliError("--model is required for a new run")
            model = args.model
        provider, connection = connect_for(db, model, args, discover=False)
        info, resolved = WindowResolver.from_store(db).model(model, provider)
        window = min(connection.context_window or resolved.tokens, resolved.tokens)
        if args.window:
            window = min(window, args.window)
        client = connection.client
        try:
            if state is None:
                try:
                    state = start_run(info, window, args.task, text, args.file)
                except ProgressiveError as exc:
                    raise CliError(str(exc)) from None
                print(f"run {state.id}: {state.parts} parts of at most {state.part_tokens:,} "
                      f"tokens; notes kept within {state.notes_tokens:,}, "
                      f"{state.reply_reserve:,} for each reply, in a {window:,}-token "
                      f"window", file=sys.stderr, flush=True)
            elif state.status == "finished" and state.answer is not None:
                print(f"run {state.id} finished before; its answer:", file=sys.stderr)
            else:
                print(f"run {state.id}: resuming at part {state.done + 1} of {state.parts}",
                      file=sys.stderr, flush=True)

            def progress(p: Progress) -> None:
                step = p.step
                what = ("answer" if step.part < 0
                        else f"part {step.part + 1}/{p.state.parts}")
                server = (f" (server: {step.reported_prompt_tokens:,})"
                          if step.reported_prompt_tokens is not None else "")
                print(f"{what}: sent {step.prompt_tokens:,} tokens{server} + "
                      f"{p.state.reply_reserve:,} reserved of {window:,}; notes "
                      f"{step.notes_tokens:,} tokens", file=sys.stderr, flush=True)

            cancel = CancelToken()
            resume_hint = (f"continue with: token-budget progressive {args.file} "
                           f"--resume {state.id}")
            try:
                state = run_progressive(client, info, state, text, data_dir, window=window,
                                        cancel=cancel, on_step=progress)
            except KeyboardInterrupt:
                cancel.cancel()
                print(f"\nstopped after part {state.done} of {state.parts}; {resume_hint}",
                      file=sys.stderr, flush=True)
                raise
            except ProgressiveError as exc:
                hint = f"; {resume_hint}" if state.status == "failed" else ""
                raise CliError(f"{exc}{hint}") from None
        finally:
            client.close()
        if state.status != "finished":
            print(f"stopped after part {state.done} of {state.parts}; {resume_hint}",
                  file=sys.stderr)
            return 130
        print(terminal_safe(state.answer or ""))
        sent = sum(s.prompt_tokens for s in state.steps)
        print(f"run {state.id} finished: {state.parts} parts and the answer, {len(state.steps)} "
              f"requests, {sent:,} prompt tokens sent", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "progressive", help="run a document too large for the window through the model, "
        "part by part",
        description="Split a text, Markdown or PDF file into parts that fit the model's window "
        "and send them one by one, each with the task and the running notes (the key "
        "information found so far, kept within a quarter of the prompt budget); the "
        "model's replies become the notes, and a last request combines them into the "
        "answer, printed on standard output. No request is sent over the window. The run "
        "is saved after every part in the data folder; Ctrl+C stops it, --resume RUN "
        "continues it.")
    p.add_argument("file", metavar="FILE", help="the document (text, Markdown or PDF)")
    p.add_argument("--task", help="what to find or do with the document (a question, "
                   "a summary to write...)")
    p.add_argument("--model", "-m", help="the model (required for a new run)")
    p.add_argument("--provider", help="a provider set up in Settings, by name")
    p.add_argument("--base-url", help="any OpenAI-compatible server (its key, if any, from "
                   "TOKEN_BUDGET_API_KEY)")
    p.add_argument("--window", type=_positive, metavar="TOKENS",
                   help="budget with at most this many tokens (default: the model's window)")
    p.add_argument("--resume", metavar="RUN", help="continue a stopped or failed run")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS,
                   help="folder for the database and the saved runs")
    p.set_defaults(func=cmd_progressive)
