"""How much of each prompt a server with a prompt cache must read again, for `token-budget
bench`: a 40-turn chat that overflows a 4,096-token window, sent through the real turn
path (store, assembly, the openai SDK over HTTP) to a loopback server that keeps its
cache the way llama.cpp keeps its KV cache (the tokens a prompt shares from its start
with the one before are not read again), once with a stable prefix and once sliding.

- prefix_reprocessed_stable / prefix_reprocessed_sliding: the share of all prompt tokens
  the server had to read again (target: at most 0.25 stable, under half of sliding);
- prefix_over_window: requests whose prompt plus reply reserve passed the window (0).

The session lends unused shares to history (elastic), as a local model's small window
wants; prefix_reprocessed_stable_fixed is the same without lending."""

from __future__ import annotations

import json
import random
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WINDOW = 4096
TURNS = 40
MODEL = "llama3.1:8b"
_WORDS = ["plan", "budget", "window", "token", "summary", "river", "mountain", "code",
          "review", "deploy", "test", "alpha", "beta", "gamma", "delta", "harbour", "lantern",
          "orchard"]


def _ids(messages: list[Any]) -> list[int]:
    """The chat as the server reads it: the model's chat template, rendered, in the
    model's own tokens (what llama.cpp compares with its cache)."""
    from desktop_app.core.catalog import lookup_model
    from desktop_app.core.chat_template import render, template_source
    from desktop_app.core.tokens import encode_prompt

    model = lookup_model(MODEL)
    assert model.template is not None
    chat = [{"role": m.get("role"), "content": m.get("content") or ""} for m in messages]
    return encode_prompt(render(template_source(model.template), chat), model.encoding)


class _CachingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # /v1/models
        self._send({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        server: _CachingServer = self.server  # type: ignore[assignment]
        ids = _ids(body.get("messages") or [])
        with server.lock:
            shared = 0
            for a, b in zip(server.previous, ids, strict=False):
                if a != b:
                    break
                shared += 1
            cached = min(shared, max(0, len(ids) - 1))  # the last token is always read
            server.previous = ids
            server.prompts.append((len(ids), cached, body.get("max_tokens") or 0))
        words = " ".join(server.rng.choice(_WORDS) for _ in range(server.rng.randint(80, 140)))
        usage = {"prompt_tokens": len(ids), "completion_tokens": len(words.split()),
                 "total_tokens": len(ids) + len(words.split()),
                 "prompt_tokens_details": {"cached_tokens": cached}}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            base = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
            for part in (words[: len(words) // 2], words[len(words) // 2:]):
                chunk = {**base, "choices": [{"index": 0, "delta": {"content": part},
                                              "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": usage}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            return
        self._send({"id": "c", "object": "chat.completion", "created": 0, "model": MODEL,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": words}}],
                    "usage": usage})

    def _send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _CachingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, seed: int) -> None:
        super().__init__(("127.0.0.1", 0), _CachingHandler)
        self.lock = threading.Lock()
        self.previous: list[int] = []
        self.prompts: list[tuple[int, int, int]] = []  # (prompt tokens, cached, max_tokens)
        self.rng = random.Random(seed)


def run_session(stable: bool, *, elastic: bool = True, turns: int = TURNS,
                seed: int = 7, data_dir: Path | None = None,
                base_url: str | None = None) -> dict[str, float]:
    """Play a chat against the caching server (or the server at `base_url`, such as a
    real llama-server serving MODEL with a 4,096-token window); the share of prompt
    tokens it read again, as it reported them, and how many requests passed the window."""
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.core.records import Session
    from desktop_app.llm.client import ChatClient
    from desktop_app.services.turn import run_turn
    from desktop_app.services.windows import WindowResolver
    from desktop_app.store import open_database

    server = _CachingServer(seed)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    scratch = tempfile.TemporaryDirectory(prefix="token-budget-prefix-")
    folder = data_dir or Path(scratch.name)
    db = open_database(folder / f"{'stable' if stable else 'sliding'}-{int(elastic)}")
    url = base_url or f"http://127.0.0.1:{server.server_address[1]}/v1"
    provider = ProviderConfig("bench", preset="llamacpp", base_url=url)
    client = ChatClient(provider, None)
    resolver = WindowResolver()
    resolver.learn(provider.name, MODEL, WINDOW)
    rng = random.Random(seed + 1)
    try:
        session = db.sessions.create(Session(
            title="bench", model=MODEL, strategy="hybrid", system_prompt="You are helpful.",
            strategy_settings={"stable_prefix": stable, "elastic": elastic}))
        assert session.id is not None
        for _ in range(turns):
            text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(60, 110)))
            run_turn(db, client, session.id, text, lambda n: resolver.model(n, provider))
        usage = [(u.reported_prompt_tokens or 0, u.cached_prompt_tokens or 0)
                 for u in db.usage.list_for_session(session.id)]
    finally:
        client.close()
        db.close()
        server.shutdown()
        server.server_close()
        scratch.cleanup()
    total = sum(p for p, _ in usage)
    again = sum(p - c for p, c in usage)  # as the server reported what it read again
    over = sum(1 for p, _, reserve in server.prompts if p + reserve > WINDOW)
    if base_url:
        over = sum(1 for p, _ in usage if p > WINDOW)
    return {"reprocessed": round(again / total, 3) if total else 0.0, "over": over,
            "requests": len(usage)}


def run_prefix_bench() -> dict[str, float]:
    stable = run_session(True)
    sliding = run_session(False)
    fixed = run_session(True, elastic=False)
    return {
        "prefix_reprocessed_stable": stable["reprocessed"],
        "prefix_reprocessed_sliding": sliding["reprocessed"],
        "prefix_reprocessed_stable_fixed": fixed["reprocessed"],
        "prefix_over_window": stable["over"] + sliding["over"] + fixed["over"],
    }


if __name__ == "__main__":
    print(json.dumps(run_prefix_bench(), indent=2))
