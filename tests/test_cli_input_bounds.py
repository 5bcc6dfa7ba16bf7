"""`count` reads bounded input (issue 12): endless devices, huge files and pipes give a
clear message instead of filling memory or hanging silently."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from desktop_app.cli import main
from desktop_app.commands import io


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_read_up_to_the_bound(capsys, device):
    started = time.monotonic()
    code, _, err = run(capsys, "count", "--model", "gpt-4o", device)
    assert code == 2 and "larger than 64 MB" in err and "Traceback" not in err
    assert "not a regular file" in err  # it says what it reads
    assert time.monotonic() - started < 30


def test_a_2_gb_file_is_refused_before_reading(tmp_path, capsys):
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:  # sparse: 2 GB of size, no disk used
        handle.truncate(2 << 30)
    started = time.monotonic()
    code, _, err = run(capsys, "count", "--model", "gpt-4o", str(big))
    assert code == 2 and "larger than 64 MB" in err
    assert time.monotonic() - started < 5
    assert len(err.strip().splitlines()) == 1


def test_a_large_standard_input_is_bounded(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(io, "MAX_INPUT_BYTES", 1000)
    source = tmp_path / "in.txt"
    source.write_text("word " * 1000, encoding="utf-8")
    with open(source, encoding="utf-8") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        code, _, err = run(capsys, "count", "--model", "gpt-4o", "-")
    assert code == 2 and "standard input: larger than" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_says_it_is_waiting_then_counts(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def writer() -> None:
        time.sleep(0.3)
        with open(fifo, "w", encoding="utf-8") as out:
            out.write("hello world")

    thread = threading.Thread(target=writer)
    thread.start()
    code, out, err = run(capsys, "count", "--model", "gpt-4o", str(fifo))
    thread.join()
    assert code == 0, err
    assert "a pipe: waiting for its data" in err
    assert out.strip().splitlines()[-1].endswith("2")
