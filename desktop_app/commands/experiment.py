"""`token-budget experiment`: run prompt variants on test inputs through a model, judge
each reply with an evaluator, print the per-variant table ranked by efficiency, and
store the run (services/experiments.py)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

from desktop_app.cli import CliError
from desktop_app.commands.io import (
    open_store,
    read_json_input,
    read_text_input,
    terminal_safe,
)

VARIANT_SEPARATOR = "---"


def read_variants(path: str) -> list[Any]:
    """Variants from a file: JSON (a list of texts, a {name: text} object, or a list of
    {"name", "text"} objects), or text with the variants separated by lines of ---."""
    from desktop_app.core.experiments import Variant, named_variants

    if path.lower().endswith(".json"):
        data = read_json_input(path)
        if isinstance(data, dict):
            variants = named_variants({str(k): str(v) for k, v in data.items()})
        elif isinstance(data, list) and all(isinstance(v, str) for v in data):
            variants = named_variants(data)
        elif isinstance(data, list) and all(isinstance(v, dict) and "text" in v for v in data):
            variants = [Variant(str(v.get("name") or f"variant {i}"), str(v["text"]))
                        for i, v in enumerate(data, 1)]
        else:
            raise CliError(f"{path}: expected a list of texts, a {{name: text}} object or a "
                           "list of {\"name\", \"text\"} objects")
    else:
        text = read_text_input(path)
        parts, current = [], []
        for line in text.splitlines():
            if line.strip() == VARIANT_SEPARATOR:
                parts.append("\n".join(current).strip())
                current = []
            else:
                current.append(line)
        parts.append("\n".join(current).strip())
        variants = named_variants([p for p in parts if p])
    if not variants:
        raise CliError(f"{path}: no variants in it")
    return variants


def read_inputs(path: str) -> list[str]:
    """Inputs from a file: JSON (a list of texts, or of objects with "input"), CSV (its
    "input" column, else its first), or text with one input a line."""
    lower = path.lower()
    if lower.endswith(".json"):
        data = read_json_input(path)
        if not isinstance(data, list):
            raise CliError(f"{path}: expected a JSON list of inputs")
        inputs = [str(d.get("input", "")) if isinstance(d, dict) else str(d) for d in data]
    elif lower.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(read_text_input(path))))
        if rows and "input" in [c.strip().lower() for c in rows[0]]:
            column = [c.strip().lower() for c in rows[0]].index("input")
            rows = rows[1:]
        else:
            column = 0
        inputs = [r[column] for r in rows if len(r) > column]
    else:
        inputs = read_text_input(path).splitlines()
    inputs = [i for i in inputs if i.strip()]
    if not inputs:
        raise CliError(f"{path}: no inputs in it")
    return inputs


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
    from desktop_app.core.experiments import Experiment, to_csv, to_json
    from desktop_app.services.experiments import (
        ExperimentError,
        Progress,
        connect_for_experiment,
        make_evaluator,
        run_and_store,
    )

    if args.provider and args.base_url:
        raise CliError("give --provider or --base-url, not both")
    export = Path(args.export) if args.export else None
    if export is not None and export.suffix.lower() not in (".csv", ".json"):
        raise CliError(f"{args.export}: export to a .csv or a .json file")
    variants = read_variants(args.variants)
    inputs = read_inputs(args.inputs)
    try:
        kind, judge_model = split_spec(args.evaluator)
    except EvaluatorError as exc:
        raise CliError(str(exc)) from None

    with open_store(args.data_dir) as db:
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
            experiment = Experiment(model=args.model, evaluator=args.evaluator,
                                    variants=variants, inputs=inputs, repeats=args.repeats,
                                    concurrency=args.concurrency, provider=connection.provider)

            def progress(p: Progress) -> None:
                if sys.stderr.isatty():
                    print(f"\r{p.done}/{p.total} replies", end="", file=sys.stderr, flush=True)

            try:
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
            text = to_csv(stored) if export.suffix.lower() == ".csv" else to_json(stored)
            try:
                export.write_text(text, encoding="utf-8", newline="")
            except OSError as exc:
                raise CliError(f"{export}: cannot write ({exc.strerror or exc})") from None
            print(f"exported to {export}", file=sys.stderr)
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
    p.add_argument("--variants", required=True, metavar="FILE",
                   help="the variants: JSON (a list, or {name: text}) or text separated by "
                   "lines of ---")
    p.add_argument("--inputs", required=True, metavar="FILE",
                   help="the inputs: JSON list, CSV (an 'input' column) or one a line")
    p.add_argument("--model", "-m", required=True, help="the model to run them on")
    p.add_argument("--evaluator", required=True, metavar="KIND:ARG",
                   help="contains:TEXT, exact:TEXT, regex:PATTERN, json-schema:FILE, "
                   "retention:FACTS.json or judge:MODEL")
    p.add_argument("--repeats", type=_positive(MAX_REPEATS), default=1,
                   help="runs of each variant on each input")
    p.add_argument("--concurrency", type=_positive(MAX_CONCURRENCY), default=2,
                   help="requests at once")
    p.add_argument("--max-tokens", type=_positive(100_000), default=DEFAULT_MAX_TOKENS,
                   help="a reply's token limit")
    p.add_argument("--export", metavar="FILE", help="also write the results to F.csv or F.json")
    p.add_argument("--provider", help="a provider set up in Settings, by name")
    p.add_argument("--base-url", help="any OpenAI-compatible server (its key, if any, from "
                   "TOKEN_BUDGET_API_KEY)")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS,
                   help="folder for the database")
    p.set_defaults(func=cmd_experiment)
