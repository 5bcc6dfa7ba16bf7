"""The words the window uses for the app's names: one display name for every budget
component, history strategy, allocation profile, kind of provider and message state,
so that no screen shows a raw identifier (`simple_qa`) beside a friendly name, or
spells a maker's name its own way ("Openai"). Identifiers stay what they are in the
store, the command line and exports; only what people read goes through here.
Pure Python: no Qt."""

from __future__ import annotations

COMPONENT_LABELS: dict[str, str] = {
    "system_prompt": "System prompt",
    "examples": "Examples",
    "memory": "Memory",
    "summary": "Summary",
    "history": "History",
    "current_input": "Current input",
    "reply_reserve": "Reply reserve",
}

STRATEGY_LABELS: dict[str, str] = {
    "full": "Full history",
    "last_n": "Last N messages",
    "token_window": "Token window",
    "rolling_summary": "Rolling summary",
    "kv_memory": "Key-value memory",
    "hybrid": "Hybrid (summary + memory + window)",
}

# The built-in allocation profiles; a profile of the user's own shows its own name.
PROFILE_LABELS: dict[str, str] = {
    "40-40-20": "40-40-20",
    "pyramid": "Pyramid",
    "simple_qa": "Simple Q&A",
    "creative_writing": "Creative writing",
    "complex_reasoning": "Complex reasoning",
    "default": "Default",
}

# Model makers (the catalog's `provider`) and the kinds of server a provider can be.
PROVIDER_LABELS: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "deepseek": "DeepSeek",
    "local": "Local models",
    "unknown": "Other models",
    "ollama": "Ollama",
    "lmstudio": "LM Studio",
    "llamacpp": "llama.cpp server",
    "vllm": "vLLM",
    "custom": "Custom OpenAI-compatible server",
}

# What becomes of a message in the next request (core.assemble.InclusionState), as its
# badge and the inspector's State column say it.
STATE_LABELS: dict[str, str] = {
    "kept": "kept",
    "pinned": "pinned",
    "summarized": "summarized",
    "folding": "to be folded",
    "dropped": "dropped",
}


def _plain(name: str) -> str:
    return name.replace("_", " ").strip().capitalize() if name else name


def component_label(name: str) -> str:
    return COMPONENT_LABELS.get(name) or _plain(name)


def strategy_label(kind: str) -> str:
    return STRATEGY_LABELS.get(kind) or _plain(kind)


def profile_label(name: str, builtin: bool = True) -> str:
    """A built-in profile's display name; the user's own profiles keep the name they
    were given (`builtin=False`, or a name that is not a built-in's)."""
    return PROFILE_LABELS.get(name, name) if builtin else name


def provider_label(name: str) -> str:
    return PROVIDER_LABELS.get(name) or PROVIDER_LABELS.get(name.lower()) or name


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)
