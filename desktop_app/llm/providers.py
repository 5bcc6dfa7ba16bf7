"""What the network says about a provider (core/providers.py: ProviderConfig): whether
its key would travel unencrypted, and the context window each kind of server really
serves (which may be smaller than the model's own: Ollama in particular truncates long
prompts silently)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from desktop_app.core.providers import ProviderConfig

# Ollama serves a model with a small context (2048 tokens before 0.6, 4096 since) unless
# its Modelfile sets num_ctx or the server runs with OLLAMA_CONTEXT_LENGTH; the /v1 API
# cannot raise it per request, and longer prompts are cut from the front without an error.
OLLAMA_DEFAULT_NUM_CTX = 4096


def is_this_computer(host: str) -> bool:
    """Is `host` this computer, judging by its name alone (no DNS lookup)?"""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in {socket.gethostname().lower(), socket.getfqdn().lower()}
    return address.is_loopback or address.is_unspecified


def plain_http_warning(base_url: str) -> str | None:
    """A warning when an API key would travel unencrypted to another machine."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or is_this_computer(parts.hostname or ""):
        return None
    return (
        f"{base_url} uses plain http to another computer: your API key and messages travel "
        "unencrypted over the network; use https if the server offers it"
    )


# --- the context window the server really serves ---------------------------------------
@dataclass(frozen=True)
class ContextWindow:
    tokens: int | None  # what the server takes per request; None when it did not say
    source: str  # where the figure came from, for the user
    trained: int | None = None  # the model's own maximum, when the server tells it
    assumed: bool = False  # True when `tokens` is a known default, not a figure read
    note: str | None = None


def discover_context_window(
    config: ProviderConfig, model: str, api_key: str | None = None, timeout: float = 5.0
) -> ContextWindow:
    """Ask the server what context window it serves `model` with. Never raises: a server
    that cannot be asked gives tokens=None and a note saying why."""
    http = _http()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    probes = {
        "ollama": (_probe_ollama,),
        "llamacpp": (_probe_llamacpp,),
        "lmstudio": (_probe_lmstudio,),
        "vllm": (_probe_v1_models,),
        "custom": (_probe_v1_models, _probe_llamacpp, _probe_lmstudio, _probe_ollama),
        "openai": (),
    }[config.preset]
    if not probes:
        return ContextWindow(None, "catalog", note="OpenAI does not publish windows by API")
    errors: list[str] = []
    try:
        with http.Client(timeout=timeout, headers=headers) as session:
            for probe in probes:
                try:
                    found = probe(session, config, model)
                except (http.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
                    errors.append(f"{probe.__name__.removeprefix('_probe_')}: {type(exc).__name__}")
                    continue
                if found is not None:
                    return found
    except http.HTTPError as exc:  # opening the session itself failed
        errors.append(type(exc).__name__)
    note = "the server did not say" + (f" ({'; '.join(errors)})" if errors else "")
    return ContextWindow(None, "unknown", note=note)


def window_warning(
    claimed: int, window: ContextWindow, claimed_by: str = "the catalog"
) -> str | None:
    """A warning when `claimed_by` promises a bigger window than the server serves."""
    if window.tokens is None or claimed <= window.tokens:
        return None
    text = (
        f"{claimed_by} says {claimed:,} tokens but the server serves {window.tokens:,} "
        f"({window.source}); budgeting with {window.tokens:,}"
    )
    if window.note:
        text += f". {window.note}"
    return text


def settle_window(
    catalog: int, setting: int | None, server: ContextWindow
) -> tuple[int, list[str]]:
    """The window to budget with, and a warning for each claim the server cannot honour:
    the user's setting if any, else the catalog's figure, never more than the server's."""
    claimed, claimed_by = (setting, "your setting") if setting else (catalog, "the catalog")
    warning = window_warning(claimed, server, claimed_by)
    if server.tokens is None or claimed <= server.tokens:
        return claimed, []
    return server.tokens, [warning] if warning else []


def _http():
    from desktop_app.llm.http_library import http_module

    return http_module()


def _json(response) -> Any:
    response.raise_for_status()
    return response.json()


def _probe_ollama(session, config: ProviderConfig, model: str) -> ContextWindow | None:
    root = config.server_root
    # A loaded model: newer Ollama reports the context it was loaded with.
    running = session.get(f"{root}/api/ps")
    if running.status_code == 200:
        for entry in running.json().get("models") or []:
            named = bool({model, f"{model}:latest"} & {entry.get("name"), entry.get("model")})
            if named and entry.get("context_length"):
                return ContextWindow(int(entry["context_length"]), "Ollama /api/ps")
    response = session.post(f"{root}/api/show", json={"model": model, "name": model})
    if response.status_code == 404:
        return None
    info = _json(response)
    model_info = info.get("model_info") or {}
    arch = model_info.get("general.architecture", "")
    trained = model_info.get(f"{arch}.context_length")
    if trained is None:  # architecture name missing: any *.context_length will do
        trained = next((v for k, v in model_info.items() if k.endswith(".context_length")), None)
    trained = int(trained) if trained else None
    num_ctx = _ollama_num_ctx(info.get("parameters") or "")
    if num_ctx:
        return ContextWindow(num_ctx, "Ollama num_ctx parameter", trained=trained)
    tokens = min(OLLAMA_DEFAULT_NUM_CTX, trained) if trained else OLLAMA_DEFAULT_NUM_CTX
    return ContextWindow(
        tokens,
        "Ollama default num_ctx",
        trained=trained,
        assumed=True,
        note=(
            "Ollama cuts longer prompts silently; raise num_ctx in the Modelfile or start "
            "the server with OLLAMA_CONTEXT_LENGTH"
        ),
    )


def _ollama_num_ctx(parameters: str) -> int | None:
    for line in parameters.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "num_ctx":
            return int(fields[1])
    return None


def _probe_llamacpp(session, config: ProviderConfig, model: str) -> ContextWindow | None:
    response = session.get(f"{config.server_root}/props")
    if response.status_code == 404:
        return None
    props = _json(response)
    settings = props.get("default_generation_settings") or {}
    n_ctx = settings.get("n_ctx") or props.get("n_ctx")
    if not n_ctx:
        return None
    return ContextWindow(int(n_ctx), "llama.cpp /props n_ctx (per slot)")


def _probe_lmstudio(session, config: ProviderConfig, model: str) -> ContextWindow | None:
    response = session.get(f"{config.server_root}/api/v0/models")
    if response.status_code == 404:
        return None
    for entry in _json(response).get("data") or []:
        if entry.get("id") != model:
            continue
        trained = entry.get("max_context_length")
        loaded = entry.get("loaded_context_length")
        if loaded:
            return ContextWindow(int(loaded), "LM Studio loaded context", trained=trained)
        if trained:
            return ContextWindow(
                int(trained),
                "LM Studio max_context_length",
                trained=int(trained),
                note="LM Studio loads the model with the context length set in its load settings",
            )
    return None


def _probe_v1_models(session, config: ProviderConfig, model: str) -> ContextWindow | None:
    response = session.get(f"{config.base_url}/models")
    if response.status_code != 200:
        return None
    for entry in response.json().get("data") or []:
        if entry.get("id") == model and entry.get("max_model_len"):
            return ContextWindow(int(entry["max_model_len"]), "vLLM max_model_len")
    return None
