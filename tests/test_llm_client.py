"""Streaming replies against a real OpenAI-compatible server on loopback: what we send,
what we keep, and how each failure reaches the user."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from desktop_app.core.providers import ProviderConfig
from desktop_app.core.tokens import count_chat
from desktop_app.llm.client import CancelToken, ChatClient, RetryPolicy, truncation_warning
from desktop_app.llm.errors import (
    AuthError,
    BadRequestError,
    ConnectionFailedError,
    ContextTooLongError,
    LLMTimeoutError,
    ModelNotFoundError,
    QuotaError,
    RateLimitError,
    ServerError,
    is_context_too_long,
)
from tests.openai_test_server import (
    CONTEXT_TOO_LONG,
    OpenAITestServer,
    Reply,
    context_too_long,
    error_reply,
    forbidden,
    model_not_found,
    openai_server_fixture,  # noqa: F401  (the fixture)
    rate_limited,
    server_error,
    unauthorized,
)

HELLO = [{"role": "user", "content": "Say hello."}]
FAST_RETRY = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05)


def make_client(
    server: OpenAITestServer,
    preset: str = "custom",
    key: str | None = None,
    timeout: float = 10.0,
    retry: RetryPolicy = FAST_RETRY,
) -> ChatClient:
    config = ProviderConfig("test", preset=preset, base_url=server.base_url, timeout=timeout)
    return ChatClient(config, key, retry=retry)


# --- the happy path -------------------------------------------------------------------
def test_streams_token_by_token_and_records_usage(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="The quick brown fox"))
    chunks: list[str] = []
    result = make_client(openai_server).stream_chat(HELLO, "test-model", 64, chunks.append)
    assert chunks == ["The", " quick", " brown", " fox"]
    assert result.text == "The quick brown fox"
    assert result.finish_reason == "stop"
    assert not result.interrupted and result.error is None
    expected = count_chat(HELLO, "test-model").tokens
    assert result.prompt_tokens == expected == result.estimated_prompt_tokens
    assert result.completion_tokens == 4
    assert result.warnings == [] and not result.truncated


def test_sends_exactly_what_it_was_given(openai_server: OpenAITestServer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "ada"},
    ]
    make_client(openai_server, key="sk-test-abcdef123456").stream_chat(messages, "test-model", 123)
    sent = openai_server.chat_requests()[-1]
    assert sent.body["messages"] == messages
    assert sent.body["model"] == "test-model"
    assert sent.body["max_tokens"] == 123
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.authorization == "Bearer sk-test-abcdef123456"


def test_openai_preset_sets_max_completion_tokens(openai_server: OpenAITestServer) -> None:
    config = ProviderConfig("openai", preset="openai", base_url=openai_server.base_url)
    ChatClient(config, "sk-test-abcdef123456").stream_chat(HELLO, "gpt-4o-mini", 50)
    body = openai_server.chat_requests()[-1].body
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body


def test_length_finish_is_reported(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="cut here", finish_reason="length"))
    result = make_client(openai_server).stream_chat(HELLO, "test-model", 2)
    assert result.finish_reason == "length"
    assert any("limit of 2 tokens" in w for w in result.warnings)


def test_lists_models(openai_server: OpenAITestServer) -> None:
    openai_server.models = [{"id": "zeta"}, {"id": "alpha"}]
    assert make_client(openai_server).list_models() == ["alpha", "zeta"]


def test_listing_models_at_a_wrong_url_says_so(openai_server: OpenAITestServer) -> None:
    config = ProviderConfig("test", base_url=openai_server.root_url)  # /v1 forgotten
    with pytest.raises(ModelNotFoundError, match="check the base URL"):
        ChatClient(config).list_models()


def test_listing_models_needs_the_right_key(openai_server: OpenAITestServer) -> None:
    openai_server.required_key = "sk-right-key-123456"
    with pytest.raises(AuthError):
        make_client(openai_server, key="sk-wrong-key-123456").list_models()
    assert make_client(openai_server, key="sk-right-key-123456").list_models()


# --- errors that end a request ---------------------------------------------------------
def test_unauthorized(openai_server: OpenAITestServer) -> None:
    openai_server.script(unauthorized())
    key = "sk-live-secret-0123456789"
    with pytest.raises(AuthError) as caught:
        make_client(openai_server, key=key).stream_chat(HELLO, "test-model")
    err = caught.value
    assert err.status == 401 and "401" in str(err) and "key" in str(err)
    assert key not in repr(err) and key not in (err.detail or "")
    assert "sk-abc" not in str(err) + (err.detail or "")  # the server's echo is scrubbed
    assert err.__cause__ is None and err.__suppress_context__  # the SDK's error is not kept
    assert len(openai_server.chat_requests()) == 1  # not retried


def test_forbidden(openai_server: OpenAITestServer) -> None:
    openai_server.script(forbidden())
    with pytest.raises(AuthError, match="403"):
        make_client(openai_server).stream_chat(HELLO, "test-model")


def test_model_not_found_names_the_model(openai_server: OpenAITestServer) -> None:
    openai_server.script(model_not_found("llama9"))
    with pytest.raises(ModelNotFoundError, match="llama9"):
        make_client(openai_server).stream_chat(HELLO, "llama9")
    assert len(openai_server.chat_requests()) == 1


def test_other_client_errors_carry_the_servers_words(openai_server: OpenAITestServer) -> None:
    openai_server.script(error_reply(400, "temperature must be at most 2", "invalid_value"))
    with pytest.raises(BadRequestError, match="temperature must be at most 2"):
        make_client(openai_server).stream_chat(HELLO, "test-model")


def test_quota_is_not_retried(openai_server: OpenAITestServer) -> None:
    openai_server.script(error_reply(429, "You exceeded your current quota", "insufficient_quota"))
    with pytest.raises(QuotaError, match="quota"):
        make_client(openai_server).stream_chat(HELLO, "test-model")
    assert len(openai_server.chat_requests()) == 1


def test_connection_refused() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ChatClient(ProviderConfig("gone", base_url=f"http://127.0.0.1:{port}/v1"))
    with pytest.raises(ConnectionFailedError, match="refused"):
        client.stream_chat(HELLO, "test-model")


def test_timeout_before_the_reply(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(header_delay=5))
    with pytest.raises(LLMTimeoutError):
        make_client(openai_server, timeout=0.5).stream_chat(HELLO, "test-model")


# --- retries ---------------------------------------------------------------------------
def test_rate_limit_waits_as_told_and_says_so(openai_server: OpenAITestServer) -> None:
    openai_server.script(rate_limited(0.1), Reply(text="finally"))
    notices = []
    result = make_client(openai_server).stream_chat(HELLO, "test-model", on_wait=notices.append)
    assert result.text == "finally" and result.retries == 1
    assert [n.delay for n in notices] == [0.1]
    assert "429" in notices[0].reason and "retry 1 of 3" in notices[0].describe()
    assert len(openai_server.chat_requests()) == 2


def test_rate_limit_honours_retry_after_ms(openai_server: OpenAITestServer) -> None:
    openai_server.script(rate_limited(0.05, header="retry-after-ms"), Reply())
    notices = []
    make_client(openai_server).stream_chat(HELLO, "test-model", on_wait=notices.append)
    assert [n.delay for n in notices] == [pytest.approx(0.05)]


def test_rate_limit_asking_too_long_fails_at_once(openai_server: OpenAITestServer) -> None:
    openai_server.script(rate_limited(600))
    with pytest.raises(RateLimitError, match="600 s") as caught:
        make_client(openai_server).stream_chat(HELLO, "test-model")
    assert caught.value.retry_after == 600
    assert len(openai_server.chat_requests()) == 1


def test_rate_limit_retries_are_bounded(openai_server: OpenAITestServer) -> None:
    openai_server.script(*[rate_limited(0.01) for _ in range(5)])
    notices = []
    with pytest.raises(RateLimitError, match="gave up after 3 retries"):
        make_client(openai_server).stream_chat(HELLO, "test-model", on_wait=notices.append)
    assert [n.attempt for n in notices] == [1, 2, 3]
    assert len(openai_server.chat_requests()) == 4


def test_server_errors_are_retried_with_backoff(openai_server: OpenAITestServer) -> None:
    openai_server.script(server_error(500), server_error(503), Reply(text="ok"))
    notices = []
    result = make_client(openai_server).stream_chat(HELLO, "test-model", on_wait=notices.append)
    assert result.text == "ok" and result.retries == 2
    assert notices[1].delay > notices[0].delay  # doubling (jitter is ±20%)


def test_server_errors_give_up(openai_server: OpenAITestServer) -> None:
    openai_server.script(*[server_error(502) for _ in range(3)])
    client = make_client(openai_server, retry=RetryPolicy(max_retries=2, base_delay=0.01))
    with pytest.raises(ServerError, match="502"):
        client.stream_chat(HELLO, "test-model")
    assert len(openai_server.chat_requests()) == 3


def test_cancel_during_a_retry_wait(openai_server: OpenAITestServer) -> None:
    openai_server.script(rate_limited(30))
    token = CancelToken()
    client = make_client(openai_server)
    result = client.stream_chat(HELLO, "test-model", cancel=token, on_wait=lambda n: token.cancel())
    assert result.cancelled and result.text == ""
    assert len(openai_server.chat_requests()) == 1


# --- context too long --------------------------------------------------------------------
@pytest.mark.parametrize("wording", sorted(CONTEXT_TOO_LONG))
def test_context_too_long_in_each_servers_words(
    openai_server: OpenAITestServer, wording: str
) -> None:
    openai_server.script(context_too_long(wording))
    with pytest.raises(ContextTooLongError) as caught:
        make_client(openai_server).stream_chat(HELLO, "test-model")
    assert "too long" in str(caught.value)
    assert len(openai_server.chat_requests()) == 1  # the caller compresses, not us
    if wording in ("openai", "vllm", "llamacpp"):
        assert caught.value.limit in (128000, 4096)
        assert caught.value.requested in (130211, 5120, 5000)


def test_context_too_long_inside_the_stream(openai_server: OpenAITestServer) -> None:
    message = CONTEXT_TOO_LONG["vllm"]["message"]
    openai_server.script(Reply(text="", stream_error={"message": message}))
    with pytest.raises(ContextTooLongError):
        make_client(openai_server).stream_chat(HELLO, "test-model")


def test_other_errors_are_not_mistaken_for_context_too_long() -> None:
    assert not is_context_too_long(None, "Rate limit reached for requests")
    assert not is_context_too_long("invalid_api_key", "Incorrect API key provided")
    assert not is_context_too_long(None, "The model `x` does not exist")
    assert is_context_too_long("context_length_exceeded", "")


# --- cut off, cancelled ------------------------------------------------------------------
def test_disconnect_midway_keeps_the_partial_reply(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="one two three four five", disconnect_after=3))
    chunks: list[str] = []
    result = make_client(openai_server).stream_chat(HELLO, "test-model", on_chunk=chunks.append)
    assert result.interrupted and not result.cancelled
    assert result.text == "one two three" == "".join(chunks)
    assert "cut off" in result.error and "kept" in result.error
    assert len(openai_server.chat_requests()) == 1  # never resent behind the user's back


def test_disconnect_before_the_first_word_is_retried(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="lost", disconnect_after=0), Reply(text="second try"))
    result = make_client(openai_server).stream_chat(HELLO, "test-model")
    assert result.text == "second try" and result.retries == 1


def test_server_going_quiet_midway_keeps_the_partial_reply(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.script(Reply(text="a b c d", stall_after=2, stall=5))
    result = make_client(openai_server, timeout=0.5).stream_chat(HELLO, "test-model")
    assert result.interrupted and result.text == "a b"
    assert "timeout" in result.error


def test_cancel_midway_closes_the_stream(openai_server: OpenAITestServer) -> None:
    # the server goes quiet after three words; cancel lands while the client is waiting
    openai_server.script(Reply(text=" ".join(["word"] * 20), stall_after=3, stall=10))
    token = CancelToken()
    chunks: list[str] = []

    def on_chunk(text: str) -> None:
        chunks.append(text)
        if len(chunks) == 3:
            threading.Thread(target=token.cancel).start()  # the Stop button, elsewhere

    result = make_client(openai_server).stream_chat(
        HELLO, "test-model", on_chunk=on_chunk, cancel=token
    )
    assert result.cancelled and result.interrupted
    assert result.text == "".join(chunks) == "word word word"
    # the connection is closed at once, not when the server next writes (in 10 s)
    assert openai_server.wait_for_streams_closed(timeout=2.0)


def test_cancel_before_the_server_answers(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(header_delay=5))
    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    result = make_client(openai_server).stream_chat(HELLO, "test-model", cancel=token)
    assert result.cancelled and result.text == ""
    assert openai_server.replies_started == 0  # control came back while the server was silent


def test_client_cancel_stops_its_streams(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text=" ".join(["w"] * 100), delay=0.02))
    client = make_client(openai_server)
    result = client.stream_chat(HELLO, "test-model", on_chunk=lambda t: client.cancel())
    assert result.cancelled and result.text == "w"


# --- honest token accounting -------------------------------------------------------------
LONG = [{"role": "user", "content": "Tell me about the budget. " * 60}]


def test_silent_truncation_is_reported_for_an_exact_count(openai_server: OpenAITestServer):
    openai_server.script(Reply(prompt_tokens=40))
    result = make_client(openai_server).stream_chat(LONG, "gpt-4o-mini")  # counted exactly
    assert result.truncated and result.prompt_tokens == 40
    assert any("cut the prompt silently" in w for w in result.warnings)
    openai_server.script(Reply())  # the server read every token: nothing to say
    assert not make_client(openai_server).stream_chat(LONG, "gpt-4o-mini").truncated


def test_an_estimate_never_raises_a_truncation_alarm(openai_server: OpenAITestServer) -> None:
    # another tokenizer counts tens of percent less (or more) than our stand-in encoding:
    # that is not a cut prompt, whatever the calibration learned so far
    for factor in (0.95, 0.5, 0.3):
        openai_server.script(Reply(prompt_token_factor=factor))
        result = make_client(openai_server).stream_chat(LONG, "test-model")
        assert not result.truncated and result.warnings == []


def test_truncation_needs_an_exact_count_and_fewer_tokens_read() -> None:
    assert truncation_warning(500, 1000, exact=True) is not None  # half of it cut
    assert truncation_warning(1000, 1000, exact=True) is None
    # a server framing the chat with its own copy of the template (Ollama leaves out
    # Llama 3.1's date block) reads a few tokens fewer: no alarm
    assert truncation_warning(1000 - 25, 1000, exact=True) is None
    assert truncation_warning(300, 1000, exact=False) is None
    assert truncation_warning(None, 1000, exact=True) is None


def test_a_reply_stopped_by_a_full_window_says_so(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="It was a long", finish_reason="length"))
    result = make_client(openai_server).stream_chat(HELLO, "test-model", max_tokens=500)
    assert result.window_full  # 4 reply tokens, far below its limit of 500
    assert any("context window was full" in w for w in result.warnings)
    openai_server.script(Reply(text="It was a long", finish_reason="length"))
    result = make_client(openai_server).stream_chat(HELLO, "test-model", max_tokens=4)
    assert not result.window_full  # it used its whole allowance
    assert any("reached its limit of 4 tokens" in w for w in result.warnings)


# --- the SDK stays off the path to the window ---------------------------------------------
def test_importing_the_llm_layer_does_not_import_openai() -> None:
    code = (
        "import sys\n"
        "import desktop_app.llm, desktop_app.llm.providers, desktop_app.llm.keys\n"
        "import desktop_app.llm.calibration, desktop_app.llm.client, desktop_app.llm.errors\n"
        "import desktop_app.llm.summarizer, desktop_app.llm.memory_extractor\n"
        "heavy = [m for m in ('openai', 'httpx', 'httpx2', 'keyring') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == ""
