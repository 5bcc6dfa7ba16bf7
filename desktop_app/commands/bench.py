"""`token-budget bench`: the speed figures of every layer in one JSON object (ms)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import tempfile
from pathlib import Path

# (module, function, takes a scratch folder); each returns a dict of figures
SUITES = (
    ("core", "desktop_app.core.bench", "run_core_bench", False),
    ("store", "desktop_app.store.bench", "run_store_bench", True),
    ("llm", "desktop_app.llm.bench", "run_llm_bench", False),
    ("prefix", "desktop_app.llm.prefix_bench", "run_prefix_bench", False),
    ("ui", "desktop_app.ui.bench", "run_ui_bench", False),
)

TARGETS = {  # figure: (limit, unit): a figure over its limit misses its target
    "assemble_cached_ms": (5.0, " ms"),
    "keystroke_update_ms": (2.0, " ms"),
    "open_session_10k_ms": (150.0, " ms"),
    "append_message_ms": (5.0, " ms"),
    "cancel_stream_ms": (200.0, " ms"),
    "open_session_paint_10k_ms": (300.0, " ms"),
    "keystroke_to_gauge_ms": (16.0, " ms"),
    "stream_chunk_gui_ms": (2.0, " ms"),
    "gui_block_max_ms_300k": (16.0, " ms"),
    "open_session_gauge_100k_ms": (150.0, " ms"),
    "open_session_gauge_300k_ms": (300.0, " ms"),
    "draft_10mb_keystroke_ms": (16.0, " ms"),
    "start_sessions_1gb_cold_ms": (1000.0, " ms"),
    "search_1gb_ms": (50.0, " ms"),
    "import_300k_ms": (10000.0, " ms"),
    "import_300k_peak_mb": (400.0, " MB"),
    "idle_rss_mb": (130.0, " MB"),
    "startup_ratio_to_bare_qt": (2.0, "×"),
}


def _beside_floor(key: str, figures: dict[str, float]) -> str:
    """The machine's own longest block beside the window's (see ui.bench.block_floor):
    a longest block at or under it is the machine's, not the window's."""
    if key != "gui_block_max_ms_300k" or "gui_block_floor_ms" not in figures:
        return ""
    return (f" (a bare Qt window doing a small fixed piece of work every 30 ms, about "
            f"2 ms on a quiet machine, blocks for up to {figures['gui_block_floor_ms']} ms "
            f"here)")


def missed_targets(figures: dict[str, float]) -> list[str]:
    """A line for each figure over its target (TARGETS)."""
    return [f"{key} = {figures[key]}{unit}, target under {limit}{unit}"
            + _beside_floor(key, figures)
            for key, (limit, unit) in TARGETS.items() if figures.get(key, 0) > limit]


def cmd_bench(args: argparse.Namespace) -> int:
    figures: dict[str, float] = {}
    problems: list[str] = []
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="token-budget-bench-") as scratch:
        for name, module_name, func_name, wants_dir in SUITES:
            if only and name not in only:
                continue
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    continue  # that layer has no benchmark yet
                raise
            func = getattr(module, func_name)
            print(f"bench: {name}…", file=sys.stderr)
            # --quick leaves out the figures at size (suites that take `quick`)
            extra = ({"quick": True} if args.quick
                     and "quick" in inspect.signature(func).parameters else {})
            try:
                result = (func(Path(scratch) / name, **extra) if wants_dir
                          else func(**extra))
            except ModuleNotFoundError as exc:  # e.g. QtTest, left out of the frozen app
                print(f"bench: {name} skipped: it needs {exc.name}", file=sys.stderr)
                continue
            figures.update(result)
    problems += missed_targets(figures)
    if figures.get("prefix_reprocessed_stable", 0) > 0.25:
        problems.append(f"a stable prefix still re-processes "
                        f"{figures['prefix_reprocessed_stable']:.0%} of prompt tokens, "
                        f"target at most 25%")
    if figures.get("prefix_over_window", 0):
        problems.append(f"{figures['prefix_over_window']:.0f} requests passed the window")
    if "keystroke_speedup_x" in figures and figures["keystroke_speedup_x"] < 50:
        problems.append(f"keystroke only {figures['keystroke_speedup_x']}x faster than a recount")
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:<30}{value:>12}")
    for p in problems:
        print(f"bench: over target: {p}", file=sys.stderr)
    return 1 if (problems and args.strict) else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="measure the app's speed figures",
        description="Measure the speed figures the README lists (milliseconds, one run) "
        "and compare them with their targets.")
    p.add_argument("--json", action="store_true", help="one JSON object of figures (ms)")
    p.add_argument("--only", metavar="SUITES",
                   help="comma-separated suites out of core,store,llm,ui (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="leave out the slow figures measured on large generated data")
    p.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    p.set_defaults(func=cmd_bench)
