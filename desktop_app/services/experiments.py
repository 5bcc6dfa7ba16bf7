"""Running a token-efficiency experiment through a model: every variant (system prompt)
on every input (user message), `repeats` times, a few requests at once, each measured
(our exact prompt count and the server's usage, cost, latency) and judged by the
evaluator. Cancellable at any point: the results that came back are kept (and stored as
they come when run through `run_and_store`). Plain Python, shared by the window and the
command line; requests go through llm.client.ChatClient like a chat turn (its retries,
its clear errors)."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop_app.core.cancel import CancelToken
from desktop_app.core.catalog import lookup_model
from desktop_app.core.evaluators import (
    Evaluator,
    EvaluatorError,
    Verdict,
    judge_messages,
    offline_evaluator,
    read_judge_score,
    split_spec,
)
from desktop_app.core.experiments import (
    Experiment,
    RunResult,
    Variant,
    named_variants,
    to_csv,
    to_json,
)
from desktop_app.core.files import (
    MAX_FILE_BYTES,
    FileReadError,
    decode_text,
    parse_json,
    read_bytes,
)
from desktop_app.core.tokens import count_chat

if TYPE_CHECKING:
    from pathlib import Path

    from desktop_app.llm.client import ChatClient
    from desktop_app.store.database import Database

MAX_CONCURRENCY = 8
MAX_REPEATS = 20
MAX_RUNS = 5000  # variants × inputs × repeats in one experiment
DEFAULT_MAX_TOKENS = 1024  # a reply's limit, so a rambling variant cannot run away
JUDGE_MAX_TOKENS = 16
VARIANT_SEPARATOR = "---"  # a line of it separates the variants in a text file
EXPORT_SUFFIXES = (".csv", ".json")


class ExperimentError(Exception):
    """An experiment that cannot start as asked; the message says why."""


NO_PROVIDER = ("no model is set up: add a provider in Settings (a local server works), "
               "pass --base-url URL or --provider NAME, or set OPENAI_API_KEY")


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    result: RunResult | None = None  # the one that just came back


def messages_for(variant: Variant, input_text: str) -> list[dict[str, str]]:
    chat = [{"role": "system", "content": variant.text}] if variant.text else []
    chat.append({"role": "user", "content": input_text})
    return chat


def judge_evaluator(client: ChatClient, model: str,
                    cancel: CancelToken | None = None) -> Evaluator:
    """An evaluator that asks `model` to grade each reply 0-10 (core.evaluators'
    judge prompt) and reads the number it gives. A failed judge request scores 0."""
    from desktop_app.llm.errors import LLMError

    def check(reply: str, input_text: str) -> Verdict:
        try:
            said = client.stream_chat(judge_messages(input_text, reply), model,
                                      max_tokens=JUDGE_MAX_TOKENS, cancel=cancel,
                                      temperature=0.0)
        except LLMError as exc:
            return Verdict(0.0, False, f"judge failed: {exc.message}")
        if said.cancelled:
            return Verdict(0.0, False, "judge stopped")
        return read_judge_score(said.text)

    return check


def make_evaluator(spec: str, *, load: Callable[[str, str], Any] | None = None,
                   judge_client: ChatClient | None = None,
                   cancel: CancelToken | None = None) -> Evaluator:
    """The evaluator a spec names ("contains:Paris", "judge:gpt-4o-mini", ...). `load`
    (kind, argument) reads what a file-based argument names (json-schema:FILE,
    retention:FACTS.json) and returns the loaded value; without it the argument is
    taken as the value itself."""
    kind, arg = split_spec(spec)
    if kind == "judge":
        if not arg:
            raise EvaluatorError("judge: name the judge model (judge:MODEL)")
        if judge_client is None:
            raise ExperimentError(NO_PROVIDER)
        return judge_evaluator(judge_client, arg, cancel)
    if kind in ("json-schema", "retention") and load is not None:
        return offline_evaluator(kind, load(kind, arg))
    return offline_evaluator(kind, arg)


def _run_one(client: ChatClient, model: str, variant: Variant, input_text: str,
             evaluator: Evaluator, cancel: CancelToken, max_tokens: int | None,
             temperature: float | None, result: RunResult) -> RunResult | None:
    """One request, measured and judged; None when it was cancelled before replying."""
    from desktop_app.llm.errors import LLMError

    if cancel.cancelled:
        return None
    chat = messages_for(variant, input_text)
    info = lookup_model(model)
    counted = count_chat(chat, info)
    result.prompt_tokens, result.prompt_exact = counted.tokens, counted.exact
    started = time.monotonic()
    try:
        said = client.stream_chat(chat, model, max_tokens=max_tokens, cancel=cancel,
                                  estimated_prompt_tokens=counted.tokens,
                                  prompt_exact=counted.exact, temperature=temperature)
    except LLMError as exc:
        result.error = exc.message
        result.latency_ms = (time.monotonic() - started) * 1000
        return result
    if said.cancelled:
        return None
    result.latency_ms = said.elapsed_ms
    result.output = said.text
    result.reported_prompt_tokens = said.prompt_tokens
    result.reported_completion_tokens = said.completion_tokens
    result.cached_prompt_tokens = said.cached_prompt_tokens
    if said.interrupted:
        result.error = said.error or "the reply was cut off"
        return result
    prompt = said.prompt_tokens if said.prompt_tokens is not None else counted.tokens
    result.cost = info.cost(prompt, said.completion_tokens or 0, said.cached_prompt_tokens or 0)
    verdict = evaluator(said.text, input_text)
    result.score, result.passed, result.detail = verdict.score, verdict.passed, verdict.detail
    return result


def run_experiment(
    client: ChatClient,
    experiment: Experiment,
    evaluator: Evaluator,
    *,
    cancel: CancelToken | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    temperature: float | None = None,
) -> Experiment:
    """Run every variant on every input `experiment.repeats` times, at most
    `experiment.concurrency` requests at once; results are appended to
    `experiment.results` (and passed to on_result, on this thread) as they come back.
    The status ends "finished", or "cancelled" when `cancel` was set (the requests under
    way are stopped; what came back is kept)."""
    if not experiment.variants:
        raise ExperimentError("no variants to compare")
    if not experiment.inputs:
        raise ExperimentError("no inputs to run the variants on")
    if not 1 <= experiment.repeats <= MAX_REPEATS:
        raise ExperimentError(f"repeats must be from 1 to {MAX_REPEATS}")
    if not 1 <= experiment.concurrency <= MAX_CONCURRENCY:
        raise ExperimentError(f"concurrency must be from 1 to {MAX_CONCURRENCY}")
    if experiment.planned > MAX_RUNS:
        raise ExperimentError(f"{experiment.planned} requests is more than {MAX_RUNS} in one "
                              "experiment")
    token = cancel or CancelToken()
    done_before = {(r.variant, r.input, r.repeat) for r in experiment.results}
    jobs = [(v, i, k) for k in range(experiment.repeats)
            for i in range(len(experiment.inputs))
            for v in range(len(experiment.variants)) if (v, i, k) not in done_before]
    total, done = experiment.planned, len(done_before)
    lock = threading.Lock()
    experiment.status = "running"
    with ThreadPoolExecutor(max_workers=experiment.concurrency,
                            thread_name_prefix="experiment") as pool:
        pending: set[Future[RunResult | None]] = set()
        queue = list(reversed(jobs))

        def submit() -> None:
            while queue and len(pending) < experiment.concurrency and not token.cancelled:
                v, i, k = queue.pop()
                pending.add(pool.submit(
                    _run_one, client, experiment.model, experiment.variants[v],
                    experiment.inputs[i], evaluator, token, max_tokens, temperature,
                    RunResult(variant=v, input=i, repeat=k)))

        try:
            submit()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    pending.discard(future)
                    result = future.result()
                    if result is None:
                        continue
                    with lock:
                        experiment.results.append(result)
                        done += 1
                    if on_result is not None:
                        on_result(result)
                    if on_progress is not None:
                        on_progress(Progress(done, total, result))
                submit()
        except BaseException:  # Ctrl+C, a failing callback: stop the requests under way
            token.cancel()
            raise
    experiment.status = "cancelled" if token.cancelled and done < total else "finished"
    return experiment


def run_and_store(db: Database, client: ChatClient, experiment: Experiment,
                  evaluator: Evaluator, **kwargs: Any) -> Experiment:
    """run_experiment, stored: the experiment is created first and every result added as
    it comes back, so a cancelled or failed run keeps what it had."""
    stored = db.experiments.create(experiment)
    assert stored.id is not None
    experiment.id, experiment.created_at = stored.id, stored.created_at
    return _run_stored(db, client, experiment, evaluator, **kwargs)


def resume_stored(db: Database, client: ChatClient, experiment_id: int,
                  evaluator: Evaluator, **kwargs: Any) -> Experiment:
    """Run what a stored experiment has not run yet (it was cancelled, or failed), adding
    to its results; the runs that came back before are not sent again."""
    experiment = db.experiments.reopen(experiment_id)
    return _run_stored(db, client, experiment, evaluator, **kwargs)


def _run_stored(db: Database, client: ChatClient, experiment: Experiment,
                evaluator: Evaluator, **kwargs: Any) -> Experiment:
    assert experiment.id is not None
    experiment_id = experiment.id
    outer = kwargs.pop("on_result", None)

    def keep(result: RunResult) -> None:
        saved = db.experiments.add_result(experiment_id, result)
        result.id = saved.id
        if outer is not None:
            outer(result)

    try:
        run_experiment(client, experiment, evaluator, on_result=keep, **kwargs)
    except KeyboardInterrupt:
        db.experiments.finish(experiment_id, "cancelled")
        raise
    except BaseException:
        db.experiments.finish(experiment_id, "failed")
        raise
    db.experiments.finish(experiment_id, experiment.status)
    return db.experiments.get(experiment_id)


def variants_from_texts(texts: Sequence[str]) -> list[Variant]:
    return [Variant(f"variant {i}", t) for i, t in enumerate(texts, 1)]


def connect_for_experiment(db: Database, model: str, *, provider: str | None = None,
                           base_url: str | None = None) -> Any:
    """The connection an experiment sends `model` to (services.connection, as chat
    chooses it); ExperimentError, saying what to set up, when there is none."""
    from desktop_app.services.connection import ConnectionSetupError, connect

    try:
        connection = connect(db, model, provider=provider, base_url=base_url, discover=False)
    except ConnectionSetupError as exc:
        raise ExperimentError(str(exc)) from None
    if connection is None:
        raise ExperimentError(NO_PROVIDER)
    return connection


# --- inputs, variants and results as files: the command line's and the window's ----------
def read_file_text(path: str | Path) -> str:
    """A UTF-8 text file's text, at most MAX_FILE_BYTES; ExperimentError, one line, when
    it is missing, a folder, not a regular file, too large, binary or not UTF-8."""
    name = str(path)
    try:
        return decode_text(read_bytes(path, name, MAX_FILE_BYTES), name)
    except FileReadError as exc:
        raise ExperimentError(str(exc)) from None


def _json(text: str, name: str) -> Any:
    try:
        return parse_json(text, name)
    except FileReadError as exc:
        raise ExperimentError(str(exc)) from None


def parse_inputs(text: str, name: str) -> list[str]:
    """Inputs from a file's text, its format by `name`'s ending: JSON (a list of texts,
    or of objects with "input"), CSV (its "input" column, else its first), or text with
    one input a line. Blank inputs are dropped; none at all, or more than an experiment
    can run (MAX_RUNS), is an ExperimentError."""
    lower = name.lower()
    if lower.endswith(".json"):
        data = _json(text, name)
        if not isinstance(data, list):
            raise ExperimentError(f"{name}: expected a JSON list of inputs")
        inputs = [_input_text(d) for d in data]
    elif lower.endswith(".csv"):
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise ExperimentError(f"{name}: not a CSV file this can read ({exc})") from None
        header = [c.strip().lower() for c in rows[0]] if rows else []
        if "input" in header:
            column = header.index("input")
            rows = rows[1:]
        else:
            column = 0
        inputs = [r[column] for r in rows if len(r) > column]
    else:
        inputs = text.splitlines()
    inputs = [i for i in inputs if i.strip()]
    if not inputs:
        raise ExperimentError(f"{name}: no inputs in it")
    if len(inputs) > MAX_RUNS:
        raise ExperimentError(f"{name}: {len(inputs):,} inputs; an experiment runs at most "
                              f"{MAX_RUNS:,} requests")
    return inputs


def _input_text(item: Any) -> str:
    if isinstance(item, dict):
        value = item.get("input", "")
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)


def parse_variants(text: str, name: str) -> list[Variant]:
    """Variants from a file's text: JSON (a list of texts, a {name: text} object, or a
    list of {"name", "text"} objects) when `name` ends in .json, else text with the
    variants separated by lines of ---. None at all is an ExperimentError."""
    if name.lower().endswith(".json"):
        data = _json(text, name)
        if isinstance(data, dict):
            variants = named_variants({str(k): str(v) for k, v in data.items()})
        elif isinstance(data, list) and all(isinstance(v, str) for v in data):
            variants = named_variants(data)
        elif isinstance(data, list) and all(isinstance(v, dict) and "text" in v for v in data):
            variants = [Variant(str(v.get("name") or f"variant {i}"), str(v["text"]))
                        for i, v in enumerate(data, 1)]
        else:
            raise ExperimentError(f"{name}: expected a list of texts, a {{name: text}} object "
                                  "or a list of {\"name\", \"text\"} objects")
    else:
        parts: list[str] = []
        current: list[str] = []
        for line in text.splitlines():
            if line.strip() == VARIANT_SEPARATOR:
                parts.append("\n".join(current).strip())
                current = []
            else:
                current.append(line)
        parts.append("\n".join(current).strip())
        variants = named_variants([p for p in parts if p])
    if not variants:
        raise ExperimentError(f"{name}: no variants in it")
    if len(variants) > MAX_RUNS:
        raise ExperimentError(f"{name}: {len(variants):,} variants; an experiment runs at "
                              f"most {MAX_RUNS:,} requests")
    return variants


def read_inputs_file(path: str | Path) -> list[str]:
    return parse_inputs(read_file_text(path), str(path))


def read_variants_file(path: str | Path) -> list[Variant]:
    return parse_variants(read_file_text(path), str(path))


def export_format(path: str | Path) -> str:
    """"csv" or "json", by the file's ending; ExperimentError for any other."""
    from pathlib import PurePath

    suffix = PurePath(path).suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ExperimentError(f"{path}: export to a .csv or a .json file")
    return suffix[1:]


def export_text(experiment: Experiment, path: str | Path) -> str:
    """The results as the file `path` names holds them: core.experiments' CSV (a row per
    result) or JSON (settings, results and the ranked summary)."""
    return to_csv(experiment) if export_format(path) == "csv" else to_json(experiment)


def write_export(experiment: Experiment, path: str | Path) -> None:
    """Write the results to `path` (.csv or .json); ExperimentError, one line, when it
    cannot be written."""
    from pathlib import Path

    text = export_text(experiment, path)
    try:
        Path(path).write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot write ({exc.strerror or exc})") from None


def missing_runs(experiment: Experiment) -> int:
    """The runs a resume would send: those planned without a reply (never run, or failed)."""
    replied = {(r.variant, r.input, r.repeat) for r in experiment.results if r.error is None}
    return max(experiment.planned - len(replied), 0)


def can_resume(experiment: Experiment) -> bool:
    """A stopped experiment (cancelled, failed, or finished with failed requests) that has
    runs without a reply; one marked running is under way, or was killed mid-run, and is
    left alone (it may be running elsewhere)."""
    return experiment.status != "running" and missing_runs(experiment) > 0
