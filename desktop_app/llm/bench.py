"""Speed figures of the model layer (ms), for `token-budget bench`:

- openai_import_ms: what importing the openai SDK costs (in a fresh interpreter), the
  reason it is imported lazily;
- llm_client_import_ms: what importing our client module costs without it;
- cancel_stream_ms: from cancel() to stream_chat() returning, mid-reply (target < 200);
- cancel_stream_closed_ms: from cancel() until the server sees the connection closed;
- cancel_before_reply_ms: the same while the server is still silent (a long prompt
  being processed).

The streams run against a tiny slow server started here on loopback, so the bench needs
no network and no test code; pass base_url to measure against a real server instead."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_START_MODEL = "bench-slow-start"  # the bench server waits before answering this one


class _SlowHandler(BaseHTTPRequestHandler):
    """Streams a token every 20 ms for up to 10 s; for SLOW_START_MODEL it first says
    nothing for 10 s. HTTP/1.0: the body ends when the connection closes."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        deadline = time.monotonic() + 10
        if body.get("model") == SLOW_START_MODEL:
            while time.monotonic() < deadline and not self.server.stopping.is_set():
                time.sleep(0.01)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = {"choices": [{"index": 0, "delta": {"content": " tok"}, "finish_reason": None}]}
        line = f"data: {json.dumps({'id': 'b', 'object': 'chat.completion.chunk', **chunk})}\n\n"
        try:
            while time.monotonic() < deadline and not self.server.stopping.is_set():
                self.wfile.write(line.encode())
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:  # the client cancelled and closed the connection
            self.server.hangups.append(time.perf_counter())


class _SlowServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.stopping = threading.Event()
        self.hangups: list[float] = []  # when the server noticed a client had gone

    def handle_error(self, request, client_address) -> None:
        pass


def _import_ms(module: str, runs: int = 3) -> float:
    code = (
        "import time; t = time.perf_counter(); "
        f"import {module}; print((time.perf_counter() - t) * 1000)"
    )
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return round(statistics.median(times), 1)


def _cancel_ms(
    client, model: str, wait_for_chunk: bool, server: _SlowServer | None = None
) -> tuple[float, float | None]:
    """(ms from cancel() to stream_chat returning, ms until the server saw the connection
    close, when the bench's own server is used)."""
    from desktop_app.llm.client import CancelToken

    token = CancelToken()
    first = threading.Event()
    returned: list[float] = []

    def run() -> None:
        client.stream_chat(
            [{"role": "user", "content": "bench"}],
            model,
            max_tokens=1000,
            on_chunk=lambda _text: first.set(),
            cancel=token,
            estimated_prompt_tokens=10,
        )
        returned.append(time.perf_counter())

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    if wait_for_chunk:
        first.wait(10)
    else:
        time.sleep(0.1)
    seen = len(server.hangups) if server is not None else 0
    started = time.perf_counter()
    token.cancel()
    worker.join(10)
    returned_ms = (returned[0] - started) * 1000 if returned else float("inf")
    closed_ms = None
    if server is not None:
        deadline = time.monotonic() + 2
        while len(server.hangups) == seen and time.monotonic() < deadline:
            time.sleep(0.002)
        if len(server.hangups) > seen:
            closed_ms = (server.hangups[seen] - started) * 1000
    return returned_ms, closed_ms


def run_llm_bench(base_url: str | None = None, model: str = "bench-model") -> dict[str, float]:
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.llm.client import ChatClient, preload_sdk

    figures = {
        "openai_import_ms": _import_ms("openai"),
        "llm_client_import_ms": _import_ms("desktop_app.llm.client"),
    }
    server = None
    if base_url is None:
        server = _SlowServer()
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    preload_sdk()
    client = ChatClient(ProviderConfig("bench", base_url=base_url))
    try:
        _cancel_ms(client, model, True)  # warm up: the SDK client, the first connection
        mid = [_cancel_ms(client, model, True, server) for _ in range(5)]
        figures["cancel_stream_ms"] = round(statistics.median(r for r, _ in mid), 2)
        closed = [c for _, c in mid if c is not None]
        if server is not None:
            figures["cancel_stream_closed_ms"] = (
                round(statistics.median(closed), 2) if closed else float("inf")
            )
            early = [_cancel_ms(client, SLOW_START_MODEL, False) for _ in range(3)]
            figures["cancel_before_reply_ms"] = round(statistics.median(r for r, _ in early), 2)
    finally:
        client.close()
        if server is not None:
            server.stopping.set()
            server.shutdown()
            server.server_close()
    return figures


if __name__ == "__main__":
    print(json.dumps(run_llm_bench(), indent=2))
