"""llama.cpp as the reference for token counts, from pytest.

.ci/llama_cpp.sh builds llama.cpp's own `llama-tokenize` and `llama-server` from the source
vendored in a pinned llama-cpp-python sdist, and keeps them with llama.cpp's vocab-only
GGUFs and official chat templates in a cache folder:

    ${TOKEN_BUDGET_LLAMA_CPP:-~/.cache/token-budget/llama.cpp/<version>}/
        bin/llama-server  bin/llama-tokenize
        vocab/ggml-vocab-<name>.gguf (+ .inp/.out: Hugging Face's ids for test strings)
        templates/<name>.jinja

`home()` finds that folder, building it on first use (once per process, ~10 minutes on 2
cores, saying so on stderr; a failed build raises, it never skips). Then:

- `tokenize(vocab, text, add_special=..., parse_special=...)`: llama-tokenize's ids for any
  text (passed through a file, byte for byte: no escape processing, no trimming). One
  process per call, which loads the vocabulary each time (0.1 s for a 32k SentencePiece
  vocab, ~0.7 s for Llama 3's, ~2 s for Gemma 4's): for many texts, serve a tiny model.
- `serve(model)`: `llama-server --jinja` on a free loopback port, yielding its base URL;
  `server_tokenize`, `apply_template`, `chat_completion`, `input_tokens` and
  `prompt_token_ids` talk to it. tiny_model.write_tiny_model makes a model to serve from a
  vocab GGUF and a template.

How llama-server counts a chat request's prompt (tools/server, this version): it renders
the template (what /apply-template returns; a BOS that the template writes first is cut
when the vocab adds one itself), then tokenizes that text with add_special=True and
parse_special=True. So usage.prompt_tokens == /v1/chat/completions/input_tokens ==
len(server_tokenize(apply_template(...), add_special=True, parse_special=True)).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / ".ci" / "llama_cpp.sh"
HOME_ENV = "TOKEN_BUDGET_LLAMA_CPP"
LOOPBACK = "127.0.0.1"


def _script_setting(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", BUILD_SCRIPT.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"{BUILD_SCRIPT}: no {name}= line")
    return match.group(1)


def pinned_version() -> str:
    """The llama-cpp-python release the build script pins (its PINNED_VERSION)."""
    return _script_setting("PINNED_VERSION")


def default_home() -> Path:
    """Where the build script puts (or would put) the reference: the same rule as it."""
    chosen = os.environ.get(HOME_ENV)
    if chosen:
        return Path(chosen).expanduser()
    version = os.environ.get("LLAMA_CPP_PYTHON_VERSION") or pinned_version()
    return Path.home() / ".cache" / "token-budget" / "llama.cpp" / version


def is_complete(folder: Path) -> bool:
    """True when `folder` holds a finished build (the script's own test)."""
    try:
        stamp = (folder / "COMPLETE").read_text().splitlines()
    except OSError:
        return False
    return (
        f"layout={_script_setting('LAYOUT')}" in stamp
        and os.access(folder / "bin" / "llama-server", os.X_OK)
        and os.access(folder / "bin" / "llama-tokenize", os.X_OK)
        and any((folder / "vocab").glob("ggml-vocab-*.gguf"))
        and any((folder / "templates").glob("*.jinja"))
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


_built: Path | BaseException | None = None


def home(announce: Callable[[str], None] = _say) -> Path:
    """The reference's folder, built by .ci/llama_cpp.sh if it is not there yet.

    The build runs at most once per process: its result, or its failure, is remembered.
    `announce` is told before a build starts (the script's progress goes to stderr).
    """
    global _built
    if isinstance(_built, Path):
        return _built
    if isinstance(_built, BaseException):
        raise RuntimeError(f"the llama.cpp reference could not be built: {_built}") from _built
    folder = default_home()
    if is_complete(folder):
        _built = folder
        return folder
    announce(
        f"llama.cpp reference missing from {folder}: building it now with "
        f"`bash {BUILD_SCRIPT.relative_to(REPO)}` (a download of ~77 MB and about 10 "
        "minutes on 2 cores; run that script beforehand to skip this)"
    )
    env = dict(os.environ, PYTHON=sys.executable)
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{BUILD_SCRIPT} exited with {done.returncode} (see stderr)")
        lines = done.stdout.strip().splitlines()
        folder = Path(lines[-1]) if lines else folder
        if not is_complete(folder):
            raise RuntimeError(f"{BUILD_SCRIPT} finished but {folder} is not complete")
    except Exception as error:
        _built = error
        raise
    _built = folder
    return folder


def binary(name: str, folder: Path | None = None) -> Path:
    """bin/llama-server or bin/llama-tokenize of the reference."""
    return (folder or home()) / "bin" / name


def vocab_path(name: str, folder: Path | None = None) -> Path:
    """vocab/ggml-vocab-<name>.gguf: `name` as "llama-bpe", "qwen2", "phi-3"..."""
    folder = folder or home()
    stem = name.removesuffix(".gguf").removeprefix("ggml-vocab-")
    path = folder / "vocab" / f"ggml-vocab-{stem}.gguf"
    if not path.is_file():
        raise FileNotFoundError(f"no vocab {name!r} in {folder}; there are: {vocabs(folder)}")
    return path


def template_path(name: str, folder: Path | None = None) -> Path:
    """templates/<name>.jinja: `name` as "meta-llama-Llama-3.1-8B-Instruct"..."""
    folder = folder or home()
    path = folder / "templates" / f"{name.removesuffix('.jinja')}.jinja"
    if not path.is_file():
        raise FileNotFoundError(f"no template {name!r} in {folder}; there are: {templates(folder)}")
    return path


def vocabs(folder: Path | None = None) -> list[str]:
    """The vocab names there are ("llama-bpe", ...)."""
    found = ((folder or home()) / "vocab").glob("ggml-vocab-*.gguf")
    return sorted(p.name.removeprefix("ggml-vocab-").removesuffix(".gguf") for p in found)


def templates(folder: Path | None = None) -> list[str]:
    """The template names there are (file names without .jinja)."""
    return sorted(p.stem for p in ((folder or home()) / "templates").glob("*.jinja"))


def _child_env() -> dict[str, str]:
    # llama.cpp's tools read LLAMA_ARG_* (any option), LLAMA_CACHE, LLAMA_LOG_*... from
    # the environment: a developer's settings must not change the reference.
    return {k: v for k, v in os.environ.items() if not k.startswith(("LLAMA_", "HF_"))}


_IDS = re.compile(r"^\[(-?\d+(, -?\d+)*)?\]$")


def tokenize(
    vocab_gguf: Path,
    text: str,
    *,
    add_special: bool,
    parse_special: bool,
    folder: Path | None = None,
) -> list[int]:
    """llama-tokenize's token ids for `text` with the vocabulary of `vocab_gguf` (a
    vocab-only GGUF or any model: only its vocabulary is loaded).

    add_special: add the BOS (and EOS) the vocabulary asks for; without it, `--no-bos`.
        (llama-tokenize adds specials only when the vocab wants a BOS; no vocab shipped
        here wants an EOS without a BOS.)
    parse_special: text such as "<|eot_id|>" becomes that special token; without it,
        `--no-parse-special`, and the text is plain text (llama-tokenize parses specials
        unless told not to).
    The text goes through a file as UTF-8, byte for byte (`-f` is read verbatim, and
    `--no-escape` keeps backslash sequences as they are); a str that is not valid
    Unicode (a lone surrogate) raises UnicodeEncodeError.
    """
    exe = binary("llama-tokenize", folder)
    with tempfile.TemporaryDirectory(prefix="token-budget-tokenize-") as tmp:
        text_file = Path(tmp) / "text.txt"
        text_file.write_bytes(text.encode("utf-8"))
        args = [str(exe), "-m", str(vocab_gguf), "--ids", "--no-escape", "-f", str(text_file)]
        if not add_special:
            args.append("--no-bos")
        if not parse_special:
            args.append("--no-parse-special")
        done = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_child_env(),
            timeout=120,
            check=False,
        )
    out = done.stdout.decode("utf-8", "replace").strip().splitlines()
    if done.returncode != 0 or not out or not _IDS.match(out[-1]):
        stderr = done.stderr.decode("utf-8", "replace")[-4000:]
        raise RuntimeError(
            f"llama-tokenize failed ({done.returncode}): {' '.join(args)}\n"
            f"stdout: {done.stdout[-2000:]!r}\nstderr: {stderr}"
        )
    ids: list[int] = json.loads(out[-1])
    return ids


# -- llama-server ---------------------------------------------------------------------

SERVER_ARGS = (
    "--jinja",  # the default in this version; said anyway
    "--no-webui",
    "--no-warmup",
    "-np", "1",  # one slot: the whole -c context for one request
    "-t", "1",
    "-tb", "1",
    "--log-colors", "off",
)  # fmt: skip
_LISTENING = re.compile(r"listening on (https?://[^\s/]+)")


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        return path.read_text("utf-8", "replace")[-limit:]
    except OSError:
        return ""


@contextlib.contextmanager
def serve(
    model_path: Path,
    n_ctx: int = 4096,
    *,
    args: Sequence[str] = (),
    folder: Path | None = None,
    timeout: float = 60.0,
) -> Iterator[str]:
    """Run `llama-server --jinja -m model_path -c n_ctx` on a free loopback port until
    the block ends, and yield its base URL ("http://127.0.0.1:PORT").

    The server picks the port itself (--port 0) and says which once the model is loaded;
    this waits for that line and then for GET /health to answer 200. `args` go after the
    defaults (SERVER_ARGS), so they can override them. Its log is kept in a temporary
    file and shown in the error if it does not come up.
    """
    exe = binary("llama-server", folder)
    cmd = [
        str(exe), "-m", str(model_path), "-c", str(n_ctx),
        "--host", LOOPBACK, "--port", "0", *SERVER_ARGS, *args,
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="token-budget-llama-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=_child_env(),
            )  # fmt: skip
        try:
            url = _wait_until_up(proc, log_path, timeout, cmd)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(
    proc: subprocess.Popen[bytes], log_path: Path, timeout: float, cmd: list[str]
) -> str:
    deadline = time.monotonic() + timeout
    url: str | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"llama-server exited with {proc.returncode}: {' '.join(cmd)}\n{_tail(log_path)}"
            )
        if url is None:
            found = _LISTENING.search(_tail(log_path, 1 << 20))
            url = found.group(1) if found else None
        if url is not None:
            status, _ = request(url, "GET", "/health", timeout=5)
            if status == 200:
                return url
        time.sleep(0.02)
    raise TimeoutError(f"llama-server not up after {timeout} s: {' '.join(cmd)}\n{_tail(log_path)}")


# Loopback only, and never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(
    base_url: str, method: str, path: str, body: Any = None, *, timeout: float = 60
) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body or None) of one request; errors are answers too
    (a refused connection is status 0)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(base_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        error.close()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def post(base_url: str, path: str, body: Any, *, timeout: float = 60) -> Any:
    """The JSON answer of POST `path`; anything but 200 raises, with the answer."""
    status, answer = request(base_url, "POST", path, body, timeout=timeout)
    if status != 200:
        raise RuntimeError(f"POST {path} -> {status}: {answer!r}")
    return answer


def server_tokenize(
    base_url: str,
    content: str,
    *,
    add_special: bool,
    parse_special: bool,
) -> list[int]:
    """POST /tokenize {"content", "add_special", "parse_special"} -> {"tokens": [...]}.
    (The server's own defaults are add_special=false, parse_special=true.)"""
    body = {"content": content, "add_special": add_special, "parse_special": parse_special}
    tokens: list[int] = post(base_url, "/tokenize", body)["tokens"]
    return tokens


def apply_template(base_url: str, messages: Sequence[Mapping[str, Any]], **extra: Any) -> str:
    """POST /apply-template {"messages", ...extra} -> {"prompt": "..."}: the chat template
    rendered as the server renders it for /v1/chat/completions. `extra`: any chat request
    field (tools, add_generation_prompt, chat_template_kwargs, reasoning_format...)."""
    prompt: str = post(base_url, "/apply-template", {"messages": list(messages), **extra})["prompt"]
    return prompt


def chat_completion(
    base_url: str, messages: Sequence[Mapping[str, Any]], *, max_tokens: int = 1, **extra: Any
) -> dict[str, Any]:
    """POST /v1/chat/completions (not streamed) -> the whole OpenAI-style answer; its
    ["usage"]["prompt_tokens"] is the server's own count of the prompt."""
    body = {"messages": list(messages), "max_tokens": max_tokens, "temperature": 0, **extra}
    answer: dict[str, Any] = post(base_url, "/v1/chat/completions", body)
    return answer


def input_tokens(base_url: str, messages: Sequence[Mapping[str, Any]], **extra: Any) -> int:
    """POST /v1/chat/completions/input_tokens -> {"input_tokens": N, "object":
    "response.input_tokens"}: the prompt count without running the model."""
    answer = post(
        base_url, "/v1/chat/completions/input_tokens", {"messages": list(messages), **extra}
    )
    count: int = answer["input_tokens"]
    return count


def prompt_token_ids(
    base_url: str, messages: Sequence[Mapping[str, Any]], **extra: Any
) -> list[int]:
    """The ids the server feeds the model for a chat request: /apply-template, then
    /tokenize with add_special and parse_special, as its chat path does."""
    prompt = apply_template(base_url, messages, **extra)
    return server_tokenize(base_url, prompt, add_special=True, parse_special=True)
