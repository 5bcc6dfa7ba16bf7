"""The HTTP library the openai SDK brings with it, for the few server endpoints that sit
outside the OpenAI-compatible /v1 API (Ollama's /api/show, llama.cpp's /props, LM
Studio's /api/v0/models). Newer openai releases depend on `httpx2`, older ones on
`httpx`; both have the same API. Imported lazily: it is not free either."""

from __future__ import annotations

from types import ModuleType


def http_module() -> ModuleType:
    try:
        import httpx2  # the openai SDK's own dependency in its newer releases
    except ImportError:
        import httpx

        return httpx
    return httpx2
