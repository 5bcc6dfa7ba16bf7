"""A model server the user set up: OpenAI in the cloud or a local OpenAI-compatible
server, its base URL, the models it offers and the user's own per-model window
overrides. The one provider type of the app, validated when it is made, so the store,
the settings dialog and the llm layer accept and refuse the same settings. Never a
secret: keys live in the OS keychain, and a URL carrying a credential is refused.
Pure Python: no Qt, no SQL, no network."""

from __future__ import annotations

import math
import re
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from desktop_app.core.glossary import provider_label


class ProviderError(ValueError):
    """A provider setting that cannot work, with a message for the user."""


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    base_url: str
    needs_key: bool  # the server refuses requests without an API key


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("openai", provider_label("openai"), "https://api.openai.com/v1", True),
        Preset("ollama", provider_label("ollama"), "http://localhost:11434/v1", False),
        Preset("lmstudio", provider_label("lmstudio"), "http://localhost:1234/v1", False),
        Preset("llamacpp", provider_label("llamacpp"), "http://localhost:8080/v1", False),
        Preset("vllm", provider_label("vllm"), "http://localhost:8000/v1", False),
        Preset("custom", provider_label("custom"), "", False),
    )
}

DEFAULT_TIMEOUT = 120.0
# a query parameter with one of these in its name carries a secret (api_key=, token=...)
_SECRET_NAME = re.compile(r"(?i)key|token|secret|password|passwd|auth")
_CREDENTIAL = (
    "the base URL carries a credential; remove it and enter the key in the provider's "
    "API key field (it is kept in the keychain)"
)


def normalize_base_url(url: str) -> str:
    """The base URL trimmed of spaces and trailing slashes, or ProviderError when it is
    not an http(s) address with a host, or carries a credential (user:password@, or a
    key or token in the query string), or a #fragment. The only URL check in the app."""
    if not isinstance(url, str):
        raise ProviderError("the base URL must be text")
    url = url.strip().rstrip("/")
    if not url:
        raise ProviderError("a custom provider needs a base URL, like http://localhost:8080/v1")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ProviderError("the base URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise ProviderError(f"the base URL is not a valid address ({exc})") from None
    # checked before the URL is echoed in any message: a secret in it would be stored,
    # exported and logged with it
    if "@" in parts.netloc or any(
        _SECRET_NAME.search(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True)
    ):
        raise ProviderError(_CREDENTIAL)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(
            f"base URL {url!r} is not an http:// or https:// address with a host "
            "(example: http://localhost:8080/v1)"
        )
    if "#" in url:
        raise ProviderError(f"base URL {url!r} has a #fragment; remove it")
    return url


@dataclass(frozen=True)
class ProviderConfig:
    """Where to send requests, and what the user said about the models there. Validated
    on creation (ProviderError); change one with dataclasses.replace, which validates
    again. Holds no key, so it is safe to store and show as it is."""

    name: str
    _: KW_ONLY
    base_url: str = ""  # empty: the preset's own
    preset: str = "custom"  # a key of PRESETS
    models: list[str] = field(default_factory=list)  # shown in the model picker
    # model -> the window the user wants budgeted for it, over the catalog's figure
    # (still capped by what the server says it serves); kept under this name in the store
    context_windows: dict[str, int] = field(default_factory=dict)
    # seconds to wait for the server between bytes; generous because a local server on a
    # CPU, or a reasoning model, can think for a minute before its first token. Not
    # stored: every stored provider gets the default.
    timeout: float = DEFAULT_TIMEOUT
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ProviderError("a provider needs a name")
        if self.preset not in PRESETS:
            raise ProviderError(
                f"unknown provider preset {self.preset!r} (known: {', '.join(PRESETS)})"
            )
        base_url = normalize_base_url(self.base_url or PRESETS[self.preset].base_url)
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ProviderError(f"timeout must be positive, in seconds; got {timeout!r}")
        if isinstance(self.models, str):
            raise ProviderError("models must be a list of model names")
        models = [str(m).strip() for m in self.models if str(m).strip()]
        windows: dict[str, int] = {}
        for model, tokens in dict(self.context_windows).items():
            if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
                raise ProviderError(
                    f"the context window for {model!r} must be a positive whole number of "
                    f"tokens, got {tokens!r}"
                )
            windows[str(model)] = tokens
        # frozen: the checked values go in past __setattr__, and the lists are copies,
        # so the caller's own lists can change without changing this provider
        for name, value in (
            ("name", self.name.strip()),
            ("base_url", base_url),
            ("models", models),
            ("context_windows", windows),
        ):
            object.__setattr__(self, name, value)

    @property
    def needs_key(self) -> bool:
        return PRESETS[self.preset].needs_key

    @property
    def server_root(self) -> str:
        """The base URL without its trailing /v1: where the non-OpenAI endpoints live."""
        return self.base_url.removesuffix("/v1")

    def window_override(self, model: str) -> int | None:
        """The window the user set for `model`, if any."""
        return self.context_windows.get(model)
