"""`token-budget experiment`: run prompt variants on test inputs through a model, judge
each reply with an evaluator, print the per-variant table ranked by efficiency, and
store the run (services/experiments.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from desktop_app.cli import CliError
from desktop_app.commands.io import open_store, read_json_input, read_text_input
from desktop_app.commands.terminal import terminal_safe


def read_variants(path: str) -> list[Any]:
    """Variants from a file (or standard input for -): services.experiments.parse_variants
    (JSON: a list of texts, a {name: text} object, or a list of {"name", "text"} objects;
    else text with the variants separated by lines of ---), the window's reader too."""
    from desktop_app.services.experiments import ExperimentError, parse_variants

    try:
        return parse_variants(read_text_input(path), path)
    except ExperimentError as exc:
        raise CliError(str(exc)) from None


def read_inputs(path: str) -> list[str]:
    """Inputs from a file (or standard input for -): services.experiments.parse_inputs
    (JSON: a list of texts, or of objects with "input"; CSV: its "input" column, else its
    first; else one input a line), the window's reader too."""
    from desktop_app.services.experiments import ExperimentError, parse_inputs

    try:
        return parse_inputs(read_text_input(path), path)
    except ExperimentError as exc:
        raise CliError(str(exc)) from None


def _load(kind: str, arg: str) -> Any:
    if not arg:
        raise CliError(f"{kind}: name the file (e.g. {kind}:facts.json)")
    return read_json_input(arg)


def _per_thousand(value: float) -> str:
    return f"{value * 1000:.3f}"


def format_table(experiment: Any) -> str:
    """The per-variant summary, best first, as plain text."""
    from desktop_app.core.experiments import summarize

    headers = ("rank", "variant", "runs", "passed", "prompt (ours)", "prompt (server)",
               "completion", "cost $", "latency ms", "TCR/1k", "quality/1k")
    rows = []
    for s in summarize(experiment):
        name = terminal_safe(s.name, keep="")
        name = name if len(name) <= 40 else name[:39] + "…"
        errors = f" ({s.errors} failed)" if s.errors else ""
        rows.append((str(s.rank), name, f"{s.runs}{errors}", f"{s.passes}",
                     f"{s.prompt_tokens:,}",
                     f"{s.reported_prompt_tokens:,}" if s.reported_prompt_tokens else "-",
                     f"{s.completion_tokens:,}", f"{s.cost:.6f}", f"{s.mean_latency_ms:.0f}",
                     _per_thousand(s.task_completion_rate), _per_thousand(s.quality_per_token)))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    left = {1}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line(headers), line(tuple("-" * w for w in widths))]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def cmd_experiment(args: argparse.Namespace) -> int:
    from desktop_app.core.cancel import CancelToken
    from desktop_app.core.evaluators import EvaluatorError, split_spec
    from desktop_app.core.experiments import Experiment
    from desktop_app.services.experiments import (
        ExperimentError,
        Progress,
        connect_for_experiment,
        export_format,
        make_evaluator,
        resume_stored,
        run_and_store,
        write_export,
    )

    if args.provider and args.base_url:
        raise CliError("give --provider or --base-url, not both")
    export = args.export or None
    if export is not None:
        try:
            export_format(export)
        except ExperimentError as exc:
            raise CliError(str(exc)) from None
    resume = args.resume
    if resume is None:
        missing = [f"--{n}" for n in ("variants", "inputs", "model", "evaluator")
                   if getattr(args, n) is None]
        if missing:
            raise CliError(f"give {', '.join(missing)} (or --resume ID)")
        variants, inputs = read_variants(args.variants), read_inputs(args.inputs)
    elif args.variants or args.inputs or args.evaluator:
        raise CliError("--resume runs the stored experiment's variants, inputs and "
                       "evaluator: give none of them")

    with open_store(args.data_dir) as db:
        if resume is not None:  # the stored experiment says what to run, and on what
            from desktop_app.store.errors import NotFoundError

            try:
                stopped = db.experiments.get(resume)
            except NotFoundError as exc:
                raise CliError(str(exc)) from None
            if stopped.status == "running":
                raise CliError(f"experiment {resume} is still running (or was killed "
                               "while running)")
            args.model = args.model or stopped.model
            args.evaluator = stopped.evaluator
            args.provider = args.provider or (None if args.base_url else stopped.provider)
        try:
            kind, judge_model = split_spec(args.evaluator)
        except EvaluatorError as exc:
            raise CliError(str(exc)) from None
        try:
            connection = connect_for_experiment(db, args.model, provider=args.provider,
                                                base_url=args.base_url)
        except ExperimentError as exc:
            raise CliError(str(exc)) from None
        for w in connection.warnings:
            print(f"warning: {w}", file=sys.stderr, flush=True)
        cancel = CancelToken()
        client = connection.client
        try:
            try:
                evaluator = make_evaluator(args.evaluator, load=_load,
                                           judge_client=client if kind == "judge" else None,
                                           cancel=cancel)
            except (EvaluatorError, ExperimentError) as exc:
                raise CliError(str(exc)) from None

            def progress(p: Progress) -> None:
                if sys.stderr.isatty():
                    print(f"\r{p.done}/{p.total} replies", end="", file=sys.stderr, flush=True)

            try:
                if resume is not None:
                    stored = resume_stored(db, client, resume, evaluator, cancel=cancel,
                                           on_progress=progress, max_tokens=args.max_tokens)
                else:
                    experiment = Experiment(
                        model=args.model, evaluator=args.evaluator, variants=variants,
                        inputs=inputs, repeats=args.repeats, concurrency=args.concurrency,
                        provider=connection.provider)
                    stored = run_and_store(db, client, experiment, evaluator, cancel=cancel,
                                           on_progress=progress, max_tokens=args.max_tokens)
            except KeyboardInterrupt:
                cancel.cancel()
                raise
            except ExperimentError as exc:
                raise CliError(str(exc)) from None
        finally:
            client.close()
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(format_table(stored))
        failed = sum(1 for r in stored.results if r.error)
        print(f"experiment {stored.id}: {len(stored.results)} of {stored.planned} replies, "
              f"{failed} failed, {stored.status}; model {terminal_safe(args.model, keep='')}, "
              f"evaluator {terminal_safe(args.evaluator, keep='')}", file=sys.stderr)
        if export is not None:
            try:
                write_export(stored, export)
            except ExperimentError as exc:
                raise CliError(str(exc)) from None
            print(f"exported to {terminal_safe(export, keep='')}", file=sys.stderr)
    return 0


def _positive(limit: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be from 1 to {limit}")
        return value
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    from desktop_app.services.experiments import (
        DEFAULT_MAX_TOKENS,
        MAX_CONCURRENCY,
        MAX_REPEATS,
    )

    p = subparsers.add_parser(
        "experiment", help="compare prompt variants on test inputs, ranked by efficiency",
        description="Run every variant (a system prompt) on every input (a user message) "
        "through a model, judge each reply with the evaluator, and print per variant: "
        "prompt tokens (our exact count and the server's), completion tokens, cost, "
        "latency, task completion rate and quality per thousand tokens, ranked by quality "
        "per token. The run is stored in the database.")
    p.add_argument("--variants", metavar="FILE",
                   help="the variants: JSON (a list, or {name: text}) or text separated by "
                   "lines of ---")
    p.add_argument("--inputs", metavar="FILE",
                   help="the inputs: JSON list, CSV (an 'input' column) or one a line")
    p.add_argument("--model", "-m", help="the model to run them on")
    p.add_argument("--evaluator", metavar="KIND:ARG",
                   help="contains:TEXT, exact:TEXT, regex:PATTERN, json-schema:FILE, "
                   "retention:FACTS.json or judge:MODEL")
    p.add_argument("--repeats", type=_positive(MAX_REPEATS), default=1,
                   help="runs of each variant on each input")
    p.add_argument("--concurrency", type=_positive(MAX_CONCURRENCY), default=2,
                   help="requests at once")
    p.add_argument("--max-tokens", type=_positive(100_000), default=DEFAULT_MAX_TOKENS,
                   help="a reply's token limit")
    p.add_argument("--export", metavar="FILE", help="also write the results to F.csv or F.json")
    p.add_argument("--resume", type=int, metavar="ID",
                   help="run what a cancelled or failed experiment did not (its variants, "
                   "inputs and evaluator; --model and the server may be given anew)")
    p.add_argument("--provider", help="a provider set up in Settings, by name")
    p.add_argument("--base-url", help="any OpenAI-compatible server (its key, if any, from "
                   "TOKEN_BUDGET_API_KEY)")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS,
                   help="folder for the database")
    p.set_defaults(func=cmd_experiment)
