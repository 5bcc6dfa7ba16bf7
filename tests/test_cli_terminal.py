"""The command line as someone at a terminal meets it: a subcommand that reads standard
input says so when that is a terminal (instead of seeming to hang), and every
subcommand's help has a description, help for each option, its default and its
choices."""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys

import pytest

from desktop_app.cli import build_parser, main

NOTICE = "reading from standard input (Ctrl+D to end)"
READERS = [["count"], ["compress", "--target", "50"], ["chunk", "--tokens", "20"]]


def start(argv, cwd, **streams):
    return subprocess.Popen([sys.executable, "-B", "-m", "desktop_app.cli", *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **streams)


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
@pytest.mark.parametrize("argv", READERS, ids=lambda a: a[0])
def test_a_terminal_on_standard_input_is_told_how_to_end_it(argv, tmp_path):
    import pty

    master, slave = pty.openpty()
    proc = start(argv, tmp_path, stdin=slave)
    os.close(slave)
    try:
        # the notice comes before the program waits for the first keystroke
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "nothing on standard error while waiting for the terminal"
        first = proc.stderr.readline().decode()
        assert first.strip() == f"token-budget: {NOTICE}"
        os.write(master, b"Budgets keep long chats affordable.\n\x04")  # a line, then Ctrl+D
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert out.strip()  # it read the line and did its work
    assert NOTICE not in err.decode()  # said once


@pytest.mark.parametrize("argv", READERS, ids=lambda a: a[0])
def test_piped_input_is_read_without_a_notice(argv, tmp_path):
    proc = start(argv, tmp_path, stdin=subprocess.PIPE)
    out, err = proc.communicate(b"Budgets keep long chats affordable.\n", timeout=60)
    assert proc.returncode == 0 and out.strip()
    assert NOTICE not in err.decode()


def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_explains_itself_in_its_help(name, capsys):
    sub = subcommands()[name]
    assert sub.description and len(sub.description) > 20
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert sub.description.split()[0] in text
    for action in sub._actions:  # a default worth saying is said, choices are listed
        worth = (action.default is not None and action.default is not argparse.SUPPRESS
                 and not isinstance(action.default, bool) and not action.required)
        if worth and action.help:
            assert "default" in sub.formatter_class(name)._get_help_string(action)
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            assert all(str(c) in text for c in action.choices)


def test_help_shows_defaults_and_choices(capsys):
    with pytest.raises(SystemExit):
        main(["chunk", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0)" in text and "(default: gpt-4o-mini)" in text
    with pytest.raises(SystemExit):
        main(["assemble", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{full,last_n,token_window,rolling_summary,kv_memory,hybrid}" in text
    assert "(default: token_window)" in text
