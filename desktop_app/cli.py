"""`token-budget`: with no arguments the window; subcommands for offline drafting,
data, chat, benchmarks and the self-test. Each group of subcommands lives in its own
module under desktop_app/commands/ and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# Modules under desktop_app.commands; each has register(subparsers) and sets
# `func(args) -> int` on the parsers it adds.
COMMAND_MODULES = (
    "drafting",  # count, plan, models, assemble
    "compression",  # compress, chunk
    "data",  # sessions, export, import
    "chat",  # chat
    "compact",  # compact
    "bench",  # bench
    "experiment",  # experiment
    "progressive",  # progressive
)
# Every subcommand: its module and its one-line summary. Only the module of the command
# that runs is imported (`--version` and `--help` import none of them); a test keeps
# this table in step with what the modules register.
COMMANDS: dict[str, tuple[str, str]] = {
    "count": ("drafting", "count the tokens of a text or a chat request"),
    "plan": ("drafting", "the budget table for a model and profile"),
    "models": ("drafting", "the model catalog"),
    "assemble": ("drafting", "the exact request the next turn would send"),
    "compress": ("compression", "compress a text to a token target"),
    "chunk": ("compression", "split a text into token chunks, optionally keeping the "
                             "relevant ones"),
    "sessions": ("data", "list sessions with ids, messages and tokens"),
    "export": ("data", "export sessions to JSON or Markdown"),
    "import": ("data", "import a Token Budget JSON export or a ChatGPT conversations.json "
                       "(or its zip)"),
    "restore-backup": ("data", "replace a damaged database with its newest backup (the "
                               "current file is kept aside)"),
    "check": ("data", "check the whole database file for damage (a start checks a large "
                      "file weekly)"),
    "chat": ("chat", "send one message and stream the reply"),
    "compact": ("compact", "fold a session's older history into its rolling summary now"),
    "bench": ("bench", "measure the app's speed figures"),
    "experiment": ("experiment", "compare prompt variants on test inputs, ranked by "
                                 "efficiency"),
    "progressive": ("progressive", "run a document too large for the window through the "
                                   "model, part by part"),
}
ALL = "*"  # build_parser(ALL): every command's real parser


class CliError(Exception):
    """A problem to print as one clear line, without a traceback."""


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, when it has one worth saying (not
    None, not off, not already said in the help)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (action.required or "default" in text or default is None
                or default is argparse.SUPPRESS or isinstance(default, bool)):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class _Version(argparse.Action):
    """--version, the version looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from desktop_app import __version__

        print(f"{parser.prog} {__version__}")
        parser.exit()


def command_in(argv: list[str]) -> str | None:
    """The subcommand `argv` runs: a name in COMMANDS, None for none, ALL when it names
    one this table does not know (the full parser then says what is wrong)."""
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--data-dir":
            if rest:
                rest.pop(0)
        elif arg == "--":
            return ALL
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else ALL
    return None


def build_parser(command: str | None = ALL) -> argparse.ArgumentParser:
    """The parser; `command` says which command's module to import and register (ALL:
    every one; None: none). The others are listed by name and summary only."""
    parser = argparse.ArgumentParser(
        prog="token-budget",
        description="See and steer what fills a language model's context window.",
    )
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    parser.add_argument(
        "--data-dir", help="folder for the database (default: your user data folder)"
    )
    parser.add_argument(
        "--self-test",
        nargs="?",
        const=True,
        default=False,
        metavar="FILE",
        help="check that this installation has every file it needs, then exit; with an"
        " export FILE, also open it in the window as a double-click would",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command == ALL:
        modules = COMMAND_MODULES
    else:
        modules = (COMMANDS[command][0],) if command in COMMANDS else ()
    for name in modules:
        try:
            module = importlib.import_module(f"desktop_app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"desktop_app.commands.{name}":
                raise
            continue  # a command group not built yet
        module.register(subparsers)
    if command != ALL:  # the others by name and summary, for --help
        for name, (_module, summary) in COMMANDS.items():
            if name not in subparsers.choices:
                subparsers.add_parser(name, help=summary)
    # `token-budget sessions --data-dir D` reads as naturally as `--data-dir D sessions`
    summaries = {a.dest: a.help for a in subparsers._choices_actions}
    for name, sub in subparsers.choices.items():
        sub.formatter_class = HelpFormatter
        if sub.description is None and summaries.get(name):  # at least the one-line summary
            sub.description = str(summaries[name])[:1].upper() + str(summaries[name])[1:] + "."
        if not any("--data-dir" in a.option_strings for a in sub._actions):
            sub.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS,
                             help="folder for the database (default: your user data folder)")
    return parser


def _window_request(argv: list[str]) -> argparse.Namespace | None:
    """`token-budget`, `token-budget --data-dir D` or `token-budget FILE.tokenbudget` (a
    double-clicked export): the window, without building every subcommand's parser
    first (start-up time is part of the product)."""
    data_dir, files, rest = None, [], list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--data-dir" and rest:
            data_dir = rest.pop(0)
        elif arg.startswith("--data-dir="):
            data_dir = arg.split("=", 1)[1]
        elif arg.lower().endswith(OPENABLE_SUFFIXES) and Path(arg).is_file():
            files.append(arg)
        else:
            return None
    return argparse.Namespace(data_dir=data_dir, open_files=files, command=None)


OPENABLE_SUFFIXES = (".tokenbudget",)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    window = _window_request(argv)
    if window is not None:
        # the window's controller points the catalog at its data folder when it opens
        # the database: importing the catalog here would hold up the first paint
        return _start_window(window)
    parser = build_parser(command_in(argv))
    args = parser.parse_args(argv)
    _use_data_dir(getattr(args, "data_dir", None))
    from desktop_app.commands.terminal import guarded_terminal, terminal_safe

    try:
        if args.command is None and not args.self_test:
            return _start_window(args)
        with guarded_terminal():
            if args.self_test:
                from desktop_app.commands.selftest import run_self_test

                return run_self_test(args)
            return int(args.func(args) or 0)
    except CliError as exc:
        # one line, whatever the file or server it quotes holds
        print(f"token-budget: {terminal_safe(str(exc), keep='')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _use_data_dir(data_dir: str | None) -> None:
    """The model catalog reads the data folder's files (your models.json, the catalog
    `models --update` wrote) from the folder this command uses."""
    import os

    folder = data_dir or os.environ.get("TOKEN_BUDGET_DATA_DIR")
    if folder:
        from desktop_app.core.catalog import set_data_dir

        set_data_dir(folder)


def _start_window(args: argparse.Namespace) -> int:
    from desktop_app.ui.app import run_app

    return run_app(args)


def main_gui(argv: list[str] | None = None) -> int:
    """The windowed program (TokenBudget.exe, the .app): the same command line as
    `token-budget`, so that a double-clicked export the installer registered as
    `TokenBudget.exe "%1"` is opened, and `TokenBudget --self-test FILE` checks itself."""
    return main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
