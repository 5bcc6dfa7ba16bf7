"""Offline prompt drafting: `count`, `plan`, `models` and `assemble`. No network."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from desktop_app.cli import CliError
from desktop_app.commands.io import argument_text, read_json_input, read_text_input
from desktop_app.core.budget import (
    BUILTIN_PROFILES,
    COMPONENT_LABELS,
    COMPONENTS,
    AllocationProfile,
    ProfileError,
    builtin_profile,
    plan_budget,
)
from desktop_app.core.catalog import ModelInfo, default_catalog, lookup_model
from desktop_app.core.user_models import MAX_WINDOW, MIN_WINDOW

DEFAULT_MODEL = "gpt-4o-mini"


_told: list[tuple[str, ...]] = [()]  # the catalog problems already printed


def resolve_model(name: str | None, window: int | None = None) -> ModelInfo:
    """The catalog entry, or the estimated fallback with a warning on stderr (and,
    once, a line for each thing wrong with the data folder's model files)."""
    model = lookup_model(name or DEFAULT_MODEL)
    problems = default_catalog().problems
    if problems and problems != _told[0]:
        _told[0] = problems
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
    if model.warning:
        print(f"warning: {model.warning}", file=sys.stderr)
    if window is not None:  # 0 too is a window asked for, and refused
        if not MIN_WINDOW <= window <= MAX_WINDOW:
            raise CliError(f"--window must be between {MIN_WINDOW} and {MAX_WINDOW:,} "
                           f"tokens, got {window:,}")
        model = model.with_context_window(window)
    return model


def resolve_profile(name: str, fractions_json: str | None = None) -> AllocationProfile:
    try:
        if fractions_json:
            try:
                fractions = json.loads(fractions_json)
            except json.JSONDecodeError as exc:
                raise CliError(f"--fractions is not valid JSON: {exc.msg}") from None
            if not isinstance(fractions, Mapping):
                raise CliError("--fractions must be a JSON object of component: fraction")
            return AllocationProfile(name or "custom", fractions)
        return builtin_profile(name)
    except ProfileError as exc:
        raise CliError(str(exc)) from None


def validate_messages(data: Any, source: str) -> list[dict[str, Any]]:
    """A JSON list of chat messages, each with a role and content."""
    if not isinstance(data, list):
        raise CliError(f"{source}: expected a JSON list of messages, got {type(data).__name__}")
    for i, m in enumerate(data):
        if not isinstance(m, Mapping):
            raise CliError(f"{source}: message {i} is not an object")
        if not isinstance(m.get("role"), str) or not m.get("role"):
            raise CliError(f"{source}: message {i} has no role")
        if "content" not in m or m["content"] is None:
            raise CliError(f"{source}: message {i} ({m['role']}) has no content")
        if not isinstance(m["content"], str | list):
            raise CliError(f"{source}: message {i} content must be text or a list of parts")
        if m.get("name") is not None and not isinstance(m["name"], str):
            raise CliError(f"{source}: message {i} ({m['role']}) name must be text")
    return list(data)


def validate_tools(data: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise CliError(f"{source}: expected a JSON list of tool definitions")
    for i, t in enumerate(data):
        fn = t.get("function") if isinstance(t, Mapping) else None
        if not isinstance(fn, Mapping) or not fn.get("name"):
            raise CliError(f"{source}: tool {i} needs a function with a name")
    return list(data)


# --- count -------------------------------------------------------------------------
def cmd_count(args: argparse.Namespace) -> int:
    from desktop_app.core.tokens import count_chat, count_text

    model = resolve_model(args.model)
    messages = tools = None
    if args.messages:
        messages = validate_messages(read_json_input(args.messages), args.messages)
        tools = validate_tools(read_json_input(args.tools), args.tools) if args.tools else None
    elif args.tools:
        raise CliError("--tools needs --messages (tools are billed with a chat request)")
    text = None if messages is not None else read_text_input(args.file)
    if args.base_url:
        tokens, source = _count_on_server(args.base_url, model.name, text, messages, tools)
        exact, kind = True, "chat" if messages is not None else "text"
    elif messages is not None:
        result = count_chat(messages, model, tools)
        tokens, exact, kind = result.tokens, result.exact, "chat"
        source = model.counting_source()
    else:
        tokens, exact, kind = count_text(text or "", model.encoding), model.exact, "text"
        source = model.counting_source()
    if args.json:
        print(json.dumps({"tokens": tokens, "exact": exact, "encoding": model.encoding,
                          "model": model.name, "kind": kind, "source": source,
                          "context_window": model.context_window}))
    else:
        label = "exact" if exact else "estimated"
        print(f"{model.name} · {source} · {label}", file=sys.stderr)
        print(tokens)
    return 0


def _count_on_server(base_url: str, model: str, text: str | None,
                     messages: list[dict[str, Any]] | None,
                     tools: list[dict[str, Any]] | None) -> tuple[int, str]:
    """Tokens as the server at `base_url` counts them, and how it was asked."""
    import os

    from desktop_app.core.providers import ProviderConfig, ProviderError
    from desktop_app.llm.server_counting import count_chat_on_server, count_text_on_server
    from desktop_app.services.connection import BASE_URL_KEY_ENV

    if tools:
        raise CliError("--tools cannot be counted by a server; count without --base-url")
    try:
        config = ProviderConfig("command line", base_url=base_url)
    except ProviderError as exc:
        raise CliError(str(exc)) from None
    key = os.environ.get(BASE_URL_KEY_ENV)
    if messages is not None:
        if any(not isinstance(m.get("content"), str) for m in messages):
            raise CliError("a server counts text messages only (no content parts)")
        tokens = count_chat_on_server(config, model, messages, key)
    else:
        tokens = count_text_on_server(config, model, text or "", key)
    if tokens is None:
        raise CliError(f"{config.server_root} cannot count tokens (it has no llama.cpp or "
                       "vLLM /tokenize endpoint); count offline without --base-url")
    return tokens, f"counted by the server at {config.server_root}"


# --- plan --------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> int:
    model = resolve_model(args.model, args.window)
    profile = resolve_profile(args.profile, args.fractions)
    plan = plan_budget(model.context_window, profile, model.max_output)
    if args.json:
        print(json.dumps({"model": model.name, "window": plan.window, "profile": profile.name,
                          "budgets": dict(plan.budgets),
                          "fractions": dict(profile.fractions)}, indent=2))
        return 0
    print(f"{model.name}: {plan.window:,}-token window, profile {profile.name}")
    print(f"{'component':<16}{'share':>8}{'tokens':>12}")
    for c in COMPONENTS:
        print(f"{COMPONENT_LABELS[c]:<16}{profile.fractions[c]:>8.0%}{plan.budgets[c]:>12,}")
    free = plan.window - sum(plan.budgets.values())
    print(f"{'Free':<16}{'':>8}{free:>12,}")
    if plan.reply_reserve < int(plan.window * profile.fractions['reply_reserve']):
        print(f"(reply reserve capped at the model's maximum output, {model.max_output:,})")
    return 0


# --- models ------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    data_dir = getattr(args, "data_dir", None)
    if args.update:
        return update_models(args.update, data_dir)
    if args.add or args.remove:
        return edit_user_models(args, data_dir)
    if data_dir:
        from desktop_app.core.catalog import load_catalog

        catalog = load_catalog(data_dir)
    else:
        catalog = default_catalog()
    for problem in catalog.problems:
        print(f"warning: {problem}", file=sys.stderr)
    # each entry as a lookup gives it: with its family's tokenizer and chat template
    models = [catalog.lookup(m.name) for m in catalog.models]
    if args.json:
        print(json.dumps([{
            "name": m.name, "aliases": list(m.aliases), "provider": m.provider,
            "context_window": m.context_window, "max_output": m.max_output,
            "encoding": m.encoding, "input_per_million": m.input_per_million,
            "output_per_million": m.output_per_million,
            "cached_input_per_million": m.cached_input_per_million, "exact": m.exact,
            "template": m.template, "counting": m.counting_source()} for m in models],
            indent=2))
        return 0
    width = max([24, *(len(m.name) + 2 for m in models)])
    print(f"{'model':<{width}}{'provider':<11}{'window':>10}{'output':>10}  {'tokenizer':<14}"
          f"{'$in/M':>7}{'$cache/M':>9}{'$out/M':>8}  counts")
    for m in models:
        cached = ("-" if m.cached_input_per_million is None
                  else f"{m.cached_input_per_million:.3f}")
        print(f"{m.name:<{width}}{m.provider:<11}{m.context_window:>10,}{m.max_output:>10,}  "
              f"{m.encoding:<14}{m.input_per_million:>7.2f}{cached:>9}"
              f"{m.output_per_million:>8.2f}  "
              f"{'exact' if m.exact else 'estimated'}: {m.counting_source()}")
    return 0


def update_models(source: str, data_dir: str | None) -> int:
    """Build a catalog from LiteLLM's JSON file into the data folder, where it is laid
    over the shipped catalog (its entries replace the shipped ones of the same name)."""
    from pathlib import Path

    from desktop_app.core.catalog import override_path, set_data_dir
    from desktop_app.core.catalog_source import SourceError, build_catalog, write_catalog
    from desktop_app.paths import resource

    shipped = json.loads(resource("models.json").read_text(encoding="utf-8"))
    try:
        doc = build_catalog(Path(source).expanduser(), shipped, keep_missing=False)
    except SourceError as exc:
        raise CliError(str(exc)) from exc
    target = override_path(data_dir)
    try:
        write_catalog(doc, target)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc}") from exc
    set_data_dir(data_dir)  # this process reads the new catalog too
    print(f"wrote {len(doc['models'])} models from {source} (sha256 "
          f"{doc['source']['sha256'][:12]}…) to {target}; they replace the shipped "
          "entries of the same name. Delete the file to go back to the shipped catalog.")
    return 0


def edit_user_models(args: argparse.Namespace, data_dir: str | None) -> int:
    """`models --add NAME --window N …` and `models --remove NAME`: your own models, in
    models.json in the data folder (core.user_models), over the catalog."""
    from desktop_app.core.catalog import set_data_dir
    from desktop_app.core.user_models import (
        UserModel,
        UserModelError,
        parse_tokenizer,
        remove_user_model,
        save_user_model,
        tokenizer_label,
        user_models_path,
    )

    if args.add and args.remove:
        raise CliError("give --add or --remove, not both")
    path = user_models_path(data_dir)
    try:
        if args.remove:
            if not remove_user_model(args.remove, data_dir):
                raise CliError(f"{args.remove!r} is not one of your models (in {path})")
            print(f"removed {args.remove} from {path}")
        else:
            if args.window is None:
                raise CliError("--add needs --window N (the model's context window in tokens)")
            model = UserModel.from_json({
                "name": argument_text(args.add, "--add"), "provider": args.provider,
                "context_window": args.window,
                "max_output": args.max_output, "input_per_million": args.input_price,
                "output_per_million": args.output_price,
                "cached_input_per_million": args.cache_price,
                "tokenizer": parse_tokenizer(args.tokenizer)})
            save_user_model(model, data_dir)
            print(f"saved {model.name} to {path}: {model.context_window:,}-token window, "
                  f"{model.output_limit:,} output, tokenizer {tokenizer_label(model.tokenizer)}")
    except UserModelError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    set_data_dir(data_dir)  # this process reads the new file too
    return 0


# --- assemble ----------------------------------------------------------------------
def cmd_assemble(args: argparse.Namespace) -> int:
    if args.session is not None:  # a stored session's next request, from the one builder
        from desktop_app.commands.next_request import cmd_assemble_session

        return cmd_assemble_session(args)
    if not args.messages:
        raise CliError("give --messages F.json (a chat to assemble) or --session ID")
    from desktop_app.core.assemble import AssemblyInput, assemble
    from desktop_app.core.facts import RETENTION_WARNING
    from desktop_app.core.history import (
        ExtractiveSummarizer,
        HistoryStrategy,
        OfflineFactExtractor,
        StrategyError,
    )
    from desktop_app.core.records import Message

    model = resolve_model(args.model, args.window)
    profile = resolve_profile(args.profile, args.fractions)
    try:
        strategy = HistoryStrategy(args.strategy, last_n=args.last_n)
    except StrategyError as exc:
        raise CliError(str(exc)) from None
    raw = validate_messages(read_json_input(args.messages), args.messages)
    if args.input is not None and args.input_file:
        raise CliError("give --input or --input-file, not both")
    draft = read_text_input(args.input_file) if args.input_file else (args.input or "")
    # leading system messages are the session's system prompt
    system_parts = []
    while raw and raw[0]["role"] == "system" and isinstance(raw[0]["content"], str):
        system_parts.append(raw.pop(0)["content"])
    messages = [
        Message(role=m["role"], content=m["content"] if isinstance(m["content"], str)
                else "".join(p.get("text", "") for p in m["content"] if isinstance(p, dict)),
                name=m.get("name"), id=m.get("id", i + 1), pinned=bool(m.get("pinned")),
                excluded=bool(m.get("excluded")))
        for i, m in enumerate(raw)
    ]
    request = assemble(
        AssemblyInput("\n\n".join(system_parts), messages, draft, model, profile, strategy,
                      elastic=args.elastic),
        summarizer=ExtractiveSummarizer(),
        extractor=OfflineFactExtractor(),
    )
    out = request.to_dict()
    out["model"] = model.name
    out["strategy"] = strategy.kind
    if request.new_summary:
        out["summary"] = {"text": request.new_summary.text, "method": "extractive",
                          "replaces_through_id": request.new_summary.last_message_id}
    if request.new_memory:
        out["memory"] = request.new_memory
    from desktop_app.services.folding import measure_retention

    retention = measure_retention(messages, request)
    if retention:
        out["retention"] = retention
    print(json.dumps(out, indent=2, ensure_ascii=False))
    for kind, figure in retention.items():
        if figure["total"] and figure["ratio"] < RETENTION_WARNING:
            print(f"warning: the {kind} kept only {figure['kept']} of {figure['total']} facts "
                  f"from the messages left out; give it a larger share (--fractions) to keep "
                  f"more", file=sys.stderr)
    for w in request.warnings:
        if w != model.warning:
            print(f"warning: {w}", file=sys.stderr)
    if not request.fits:
        print(f"token-budget: {request.problem}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from desktop_app.core.history import STRATEGIES

    model_help = "whose tokenizer counts (see `token-budget models`)"
    profiles = ", ".join(BUILTIN_PROFILES)
    p = subparsers.add_parser(
        "count", help="count the tokens of a text or a chat request",
        description="Count the tokens of a text (a file or standard input), or of a chat "
        "request with --messages (and --tools), the way the model's provider counts them. "
        "The number is the last line of standard output; how it was counted goes to "
        "standard error. Offline unless --base-url asks a server.")
    p.add_argument("file", nargs="?", default="-",
                   help="text file, or - for standard input (ignored with --messages)")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--messages", metavar="F.json", help="a JSON list of chat messages")
    p.add_argument("--tools", metavar="F.json", help="a JSON list of tool definitions")
    p.add_argument("--base-url", metavar="URL",
                   help="ask this llama.cpp or vLLM server to count instead (its /v1 URL)")
    p.add_argument("--json", action="store_true", help="details as JSON")
    p.set_defaults(func=cmd_count)

    p = subparsers.add_parser(
        "plan", help="the budget table for a model and profile",
        description="The token budget of each component (system prompt, examples, memory, "
        "summary, history, input, reply reserve) for a model's window under an allocation "
        "profile.")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--profile", "-p", default="default",
                   help=f"one of {profiles} (or a name for --fractions)")
    p.add_argument("--fractions", help='a custom profile as JSON, e.g. {"history": 0.5, ...}')
    p.add_argument("--window", type=int, help="override the model's context window")
    p.add_argument("--json", action="store_true", help="the plan as JSON")
    p.set_defaults(func=cmd_plan)

    p = subparsers.add_parser(
        "models", help="the model catalog",
        description="Every model in the catalog: its window, maximum output, tokenizer, "
        "prices (input, cache read, output; dollars per million tokens), and whether its "
        "counts are exact or estimated.")
    p.add_argument("--json", action="store_true", help="the catalog as JSON")
    p.add_argument("--update", metavar="FILE",
                   help="build a catalog from LiteLLM's model_prices_and_context_window"
                   "_backup.json into the data folder, over the shipped one")
    yours = p.add_argument_group(
        "your own models", "kept in models.json in the data folder, over the catalog (an "
        "entry of the same name is replaced)")
    yours.add_argument("--add", metavar="NAME", help="add (or change) one of your models")
    yours.add_argument("--remove", metavar="NAME", help="remove one of your models")
    yours.add_argument("--window", type=int, metavar="N", help="with --add: its context window")
    yours.add_argument("--max-output", type=int, metavar="N",
                       help="with --add: its output limit (default 4,096, within the window)")
    yours.add_argument("--input-price", type=float, metavar="X",
                       help="with --add: dollars per million input tokens")
    yours.add_argument("--output-price", type=float, metavar="Y",
                       help="with --add: dollars per million output tokens")
    yours.add_argument("--cache-price", type=float, metavar="Z",
                       help="with --add: dollars per million cached input tokens")
    yours.add_argument("--tokenizer", metavar="T",
                       help="with --add: a shipped tokenizer (llama3, qwen2, tekken, "
                       "o200k_base, …), server (ask the server) or a .gguf file's path "
                       "(default: guessed from the name)")
    yours.add_argument("--provider", default="local",
                       help="with --add: who serves it (local, openai, …)")
    p.set_defaults(func=cmd_models)

    p = subparsers.add_parser(
        "assemble", help="the exact request the next turn would send",
        description="Build the exact next request from a chat (--messages) or a stored "
        "session (--session) under an allocation profile and history strategy, and say "
        "what was kept, summarized, dropped or pinned. Exit status 1 when it cannot fit.")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--profile", "-p", default="default",
                   help=f"allocation profile: one of {profiles} (or a name for --fractions)")
    p.add_argument("--fractions", help="a custom profile as JSON")
    p.add_argument("--strategy", "-s", default="token_window", choices=STRATEGIES,
                   help="history strategy")
    p.add_argument("--last-n", type=int, default=20, help="for --strategy last_n")
    p.add_argument("--messages", metavar="F.json", help="a JSON list of chat messages")
    p.add_argument("--session", type=int, metavar="ID",
                   help="a stored session: print what its next turn will send")
    p.add_argument("--json", action="store_true",
                   help="with --session: the request as JSON (--messages always prints JSON)")
    p.add_argument("--input", help="the message being drafted")
    p.add_argument("--input-file", metavar="F", help="read the draft from a file")
    p.add_argument("--window", type=int, help="override the model's context window")
    p.add_argument("--elastic", action="store_true", help="lend unused shares to history")
    p.set_defaults(func=cmd_assemble)
