"""An OpenAI-compatible server on loopback for the tests: real sockets, real HTTP/1.1
with chunked server-sent events, so the app's client code runs unchanged against it.

It streams replies word by word with usage in the last chunk when asked, lists models,
answers Ollama's /api/show and /api/ps, llama.cpp's /props and LM Studio's
/api/v0/models, and, scripted per test, misbehaves: 401, 404, 429 with Retry-After,
500, 400 context too long (in each server's wording), slow tokens, a slow start, a
disconnect mid-stream, and silent truncation. Every request is recorded. A `responder`
answers each request from what it asked (deterministic under concurrency).

With `prefix_cache` on it keeps a prompt cache the way llama.cpp keeps its KV cache: the
tokens a chat request shares from its start with the previous one are "read from the
cache", reported as usage.prompt_tokens_details.cached_tokens (`cache_report`: "usage",
as OpenAI and current llama.cpp do; "timings", only timings.cache_n in the last chunk, as
older llama.cpp did; "both"). A scripted Reply.cached_tokens reports that figure instead.

Tests ask for the `openai_server` fixture after
`from tests.openai_test_server import openai_server_fixture  # noqa: F401`."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from desktop_app.core.tokens import count_chat


@dataclass
class Reply:
    """What the server does with the next chat request."""

    status: int = 200
    text: str = "Hello from the test server."
    delay: float = 0.0  # seconds between streamed pieces (slow tokens)
    header_delay: float = 0.0  # seconds before any byte (slow prompt processing)
    disconnect_after: int | None = None  # hang up after this many content pieces
    stall_after: int | None = None  # after this many pieces, go quiet for `stall` seconds
    stall: float = 0.0
    prompt_tokens: int | None = None  # reported; default: our exact count of what came
    prompt_token_factor: float = 1.0  # reported = count × factor (another tokenizer)
    cached_tokens: int | None = None  # reported as read from the cache (else the cache's)
    finish_reason: str = "stop"
    body: dict[str, Any] | None = None  # the JSON body of an error reply
    headers: dict[str, str] = field(default_factory=dict)
    stream_error: dict[str, Any] | None = None  # an error event after the pieces

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]


def error_reply(status: int, message: str, code: str | None = None, **extra: Any) -> Reply:
    error = {"message": message, "type": "test_error", "code": code, **extra}
    return Reply(status=status, body={"error": error}, headers=extra.pop("headers", {}))


def unauthorized() -> Reply:
    return error_reply(401, "Incorrect API key provided: sk-abc***xyz.", "invalid_api_key")


def forbidden() -> Reply:
    return error_reply(403, "You are not allowed to sample from this model", None)


def model_not_found(model: str = "nope") -> Reply:
    return error_reply(404, f"The model `{model}` does not exist", "model_not_found")


def rate_limited(retry_after: float | None = 0.1, header: str = "retry-after") -> Reply:
    reply = error_reply(429, "Rate limit reached for requests", "rate_limit_exceeded")
    if retry_after is not None:
        value = retry_after * 1000 if header == "retry-after-ms" else retry_after
        reply.headers[header] = str(value)
    return reply


def server_error(status: int = 500) -> Reply:
    return error_reply(status, "The server had an error while processing your request.", None)


# The wording of each server when a prompt does not fit its window.
CONTEXT_TOO_LONG = {
    "openai": {
        "message": (
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130211 tokens. Please reduce the length of the messages."
        ),
        "code": "context_length_exceeded",
    },
    "vllm": {
        "message": (
            "This model's maximum context length is 4096 tokens. However, you requested 5120 "
            "tokens (4096 in the messages, 1024 in the completion). Please reduce the length "
            "of the messages or completion."
        ),
        "code": None,
    },
    "llamacpp": {
        "message": "the request exceeds the available context size, try increasing it",
        "code": None,
        "n_prompt_tokens": 5000,
        "n_ctx": 4096,
    },
    "llamacpp_short": {"message": "the request exceeds the available context size", "code": None},
    "lmstudio": {
        "message": (
            "Trying to keep the first 5000 tokens when context the overflows. However, the "
            "model is loaded with context length of only 4096 tokens, which is not enough."
        ),
        "code": None,
    },
}


def context_too_long(wording: str = "openai") -> Reply:
    spec = dict(CONTEXT_TOO_LONG[wording])
    message = spec.pop("message")
    code = spec.pop("code")
    if wording == "llamacpp":  # llama.cpp's body: {"error": {"code": 400, ..., "n_ctx": ...}}
        body = {
            "error": {"code": 400, "message": message, "type": "exceed_context_size_error", **spec}
        }
        return Reply(status=400, body=body)
    return error_reply(400, message, code)


def prompt_token_ids(messages: list[Any]) -> list[int]:
    """The chat as one token sequence, the way a server lays it out before reading it:
    each message's role and content on a line (o200k_base), in order."""
    from desktop_app.core.tokens import encode

    ids: list[int] = []
    for m in messages:
        m = m if isinstance(m, dict) else {}
        content = m.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        ids.extend(encode(f"{m.get('role')}: {text}\n", "o200k_base"))
    return ids


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class OpenAITestServer:
    def __init__(self) -> None:
        self.models: list[dict[str, Any]] = [{"id": "test-model"}, {"id": "gpt-4o-mini"}]
        self.replies: deque[Reply] = deque()
        # answers each chat request from its body when nothing is scripted: a reply that
        # depends only on what was asked, whatever order concurrent requests arrive in
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[RecordedRequest] = []
        self.required_key: str | None = None  # answer 401 unless this key is sent
        # native endpoints of the local servers; None serves 404 like a server without it
        self.ollama_show: dict[str, dict[str, Any]] = {}
        self.ollama_ps: list[dict[str, Any]] | None = None
        self.llamacpp_props: dict[str, Any] | None = None
        self.lmstudio_models: list[dict[str, Any]] | None = None
        # a llama.cpp-like prompt cache: the previous request's prompt tokens
        self.prefix_cache = False
        self.cache_report = "usage"  # "usage", "timings" or "both"
        self.cached_prompt: list[int] = []
        self.usages: list[dict[str, Any]] = []  # the usage reported for each chat reply
        self.stop_event = threading.Event()
        self.open_streams = 0  # streams whose client has not gone away yet
        self.connections: list[socket.socket] = []
        self.replies_started = 0  # streamed replies whose headers went out
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life --------------------------------------------------------------------------
    def start(self) -> OpenAITestServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:  # kept-alive connections too: a stopped server answers nothing
            connections, self.connections = self.connections, []
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    # --- scripting ---------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """The next chat requests get these replies, in order; then the default."""
        with self._lock:
            self.replies.extend(replies)

    def next_reply(self, body: dict[str, Any] | None = None) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
            responder = self.responder
        return responder(body or {}) if responder is not None else Reply()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def read_cache(self, messages: list[Any], prompt: int, scripted: int | None) -> int | None:
        """The prompt tokens this request reads from the cache: the scripted figure, else,
        with `prefix_cache` on, the tokens it shares from its start with the previous
        request (at least one is processed again, as llama.cpp does), never more than the
        reported prompt; None when the server says nothing."""
        if scripted is not None:
            return scripted
        if not self.prefix_cache:
            return None
        tokens = prompt_token_ids(messages)
        with self._lock:
            previous, self.cached_prompt = self.cached_prompt, tokens
        shared = 0
        for a, b in zip(previous, tokens, strict=False):
            if a != b:
                break
            shared += 1
        return max(0, min(shared, len(tokens) - 1, prompt))

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def wait_for_streams_closed(self, timeout: float = 2.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.open_streams == 0:
                return True
            time.sleep(0.01)
        return False


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # clients hanging up is normal
        pass


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAITestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.owner._lock:
            self.owner.connections.append(self.connection)

    def finish(self) -> None:
        with self.owner._lock:
            if self.connection in self.owner.connections:
                self.owner.connections.remove(self.connection)
        super().finish()

    # --- plumbing ----------------------------------------------------------------------
    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner.record(RecordedRequest(self.command, self.path, headers, body))

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    # --- routes ------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._record(None)
        owner = self.owner
        if self.path == "/v1/models":
            if owner.required_key is not None and (
                self.headers.get("Authorization") != f"Bearer {owner.required_key}"
            ):
                self._send_json(401, unauthorized().body)
                return
            data = [{"object": "model", "owned_by": "test", **m} for m in owner.models]
            self._send_json(200, {"object": "list", "data": data})
        elif self.path == "/props" and owner.llamacpp_props is not None:
            self._send_json(200, owner.llamacpp_props)
        elif self.path == "/api/ps" and owner.ollama_ps is not None:
            self._send_json(200, {"models": owner.ollama_ps})
        elif self.path == "/api/v0/models" and owner.lmstudio_models is not None:
            self._send_json(200, {"object": "list", "data": owner.lmstudio_models})
        else:
            self._not_found()

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        if self.path == "/api/show":
            name = (body or {}).get("model") or (body or {}).get("name")
            if name in self.owner.ollama_show:
                self._send_json(200, self.owner.ollama_show[name])
            else:
                self._send_json(404, {"error": f"model '{name}' not found"})
        elif self.path == "/v1/chat/completions":
            self._chat(body or {})
        else:
            self._not_found()

    def _chat(self, body: dict[str, Any]) -> None:
        owner = self.owner
        expected = f"Bearer {owner.required_key}"
        if owner.required_key is not None and self.headers.get("Authorization") != expected:
            self._send_json(401, unauthorized().body)
            return
        reply = owner.next_reply(body)
        if reply.header_delay and owner.stop_event.wait(reply.header_delay):
            return
        if reply.status != 200:
            self._send_json(reply.status, reply.body or {}, reply.headers)
            return
        model = body.get("model", "test-model")
        prompt = reply.prompt_tokens
        if prompt is None:
            counted = count_chat(body.get("messages") or [], model).tokens
            prompt = round(counted * reply.prompt_token_factor)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": len(reply.pieces()),
            "total_tokens": prompt + len(reply.pieces()),
        }
        cached = owner.read_cache(body.get("messages") or [], prompt, reply.cached_tokens)
        timings = None
        with owner._lock:
            owner.usages.append(usage)
        if cached is not None:
            if owner.cache_report in ("usage", "both"):
                usage["prompt_tokens_details"] = {"cached_tokens": cached}
            if owner.cache_report in ("timings", "both"):
                timings = {"cache_n": cached, "prompt_n": prompt - cached,
                           "predicted_n": len(reply.pieces())}
        if not body.get("stream"):
            message = {"role": "assistant", "content": reply.text}
            choice = {"index": 0, "message": message, "finish_reason": reply.finish_reason}
            self._send_json(
                200,
                {
                    "id": "cmpl-test",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        with owner._lock:
            owner.replies_started += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with owner._lock:
            owner.open_streams += 1
        try:
            self._stream(reply, model, usage if include_usage else None, timings)
        except OSError:  # the client went away: that is what a cancel looks like
            self.close_connection = True
        finally:
            with owner._lock:
                owner.open_streams -= 1

    def _stream(self, reply: Reply, model: str, usage: dict[str, Any] | None,
                timings: dict[str, int] | None = None) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [choice],
            }

        self._event(chunk({"role": "assistant", "content": ""}))
        for i, piece in enumerate(reply.pieces()):
            if reply.disconnect_after is not None and i >= reply.disconnect_after:
                self._hang_up()
                self.close_connection = True
                return
            pause = reply.delay + (reply.stall if i == reply.stall_after else 0.0)
            if pause and not self._pause(pause):
                self.close_connection = True
                return
            self._event(chunk({"content": piece}))
        if reply.stream_error is not None:
            self._event({"error": reply.stream_error})
            self._end()
            return
        last = chunk({}, reply.finish_reason)
        if timings is not None:  # llama.cpp puts them in the chunk that finishes
            last["timings"] = timings
        self._event(last)
        if usage is not None:
            self._event(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        self._write_chunk(b"data: [DONE]\n\n")
        self._end()

    def _pause(self, seconds: float) -> bool:
        """Wait like a server generating slowly; False as soon as the client hangs up
        (seen as end-of-file on the socket, as real servers watch for) or the server stops."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.owner.stop_event.is_set():
                return False
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
                time.sleep(min(left, 0.02))  # a pipelined request: not ours to read
        return True

    def _event(self, payload: dict[str, Any]) -> None:
        self._write_chunk(f"data: {json.dumps(payload)}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _hang_up(self) -> None:
        """Close the socket mid-stream, without the chunked terminator."""
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()


@pytest.fixture(name="openai_server")
def openai_server_fixture() -> Iterator[OpenAITestServer]:
    """A fresh server per test; import this function into a test module to use it."""
    server = OpenAITestServer().start()
    try:
        yield server
    finally:
        server.stop()
