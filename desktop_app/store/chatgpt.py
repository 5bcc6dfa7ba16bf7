"""Reading a ChatGPT data export (conversations.json). Each conversation is a tree of
nodes (edits and regenerations branch it); the conversation as the user last saw it is
the path from `current_node` back through each node's `parent` to the root. A system
message with text (a custom GPT's or an API conversation's instructions) becomes the
session's system prompt, never a message of its history."""

from __future__ import annotations

from typing import Any

from desktop_app.core.records import Message, Session
from desktop_app.store.bundles import SessionBundle
from desktop_app.store.validate import Fields, join

KEPT_ROLES = ("user", "assistant")  # a system message becomes the system prompt
TEXT_TYPES = ("text", "multimodal_text", "code")


def looks_like_chatgpt(doc: Any) -> bool:
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(c, dict) and "mapping" in c for c in doc[:5])
    )


def _branch(conv: Fields) -> list[tuple[str, Fields]]:
    """The current branch's nodes, root first."""
    mapping = conv.mapping("mapping")
    where = join(conv.where, "mapping")
    node_id = conv.text("current_node")
    if node_id not in mapping:
        conv.fail("current_node", f"names node {node_id!r}, which is not in the mapping")
    path: list[tuple[str, Fields]] = []
    seen: set[str] = set()
    while node_id is not None:
        if node_id in seen:
            conv.fail("mapping", f"node {node_id!r} is its own ancestor (a loop of parents)")
        seen.add(node_id)
        node = Fields(conv.file, f"{where}[{node_id!r}]", mapping[node_id])
        path.append((node_id, node))
        parent = node.text("parent", None)
        if parent is not None and parent not in mapping:
            node.fail("parent", f"names node {parent!r}, which is not in the mapping")
        node_id = parent
    path.reverse()
    return path


def _text(content: Fields) -> str | None:
    """The message's text, or None for content we do not import (tool output, etc.)."""
    content_type = content.text("content_type", "text")
    if content_type not in TEXT_TYPES:
        return None
    if content_type == "code":
        return content.text("text", "")
    pieces = []
    for i, part in enumerate(content.items("parts", [])):
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            is_image = "image" in str(part.get("content_type", ""))
            pieces.append("[image]" if is_image else "[attachment]")
        elif part is not None:
            content.fail(f"parts[{i}]", f"expected text or an object, got {type(part).__name__}")
    return "\n".join(pieces)


def chatgpt_conversation(conv: Fields) -> tuple[SessionBundle, int]:
    """A conversation as a bundle, and how many of its nodes were left out."""
    messages: list[Message] = []
    system: list[str] = []  # the system prompt, from the system messages with text
    skipped = 0
    model = conv.text("default_model_slug", None)
    for _node_id, node in _branch(conv):
        data = node.child("message", None)
        if data is None:
            continue  # the tree's empty root
        role = data.child("author").text("role")
        meta = data.child("metadata", None)
        hidden = bool(meta and meta.data.get("is_visually_hidden_from_conversation"))
        text = _text(data.child("content"))
        if role == "system":
            if text is not None and text.strip():
                system.append(text.strip())
            continue  # every conversation starts with an empty hidden one: nothing to say
        if role not in KEPT_ROLES or hidden or text is None or not text.strip():
            skipped += 1
            continue
        if role == "assistant" and meta is not None and not model:
            model = meta.text("model_slug", None)
        messages.append(Message(role=role, content=text, created_at=data.time("create_time")))
    session = Session(
        title=conv.text("title", None) or "Imported ChatGPT conversation",
        model=model or "gpt-4o",
        system_prompt="\n\n".join(system),
        created_at=conv.time("create_time"),
        updated_at=conv.time("update_time"),
    )
    return SessionBundle(session, messages), skipped


def parse_chatgpt(doc: list[Any], file: str) -> tuple[list[SessionBundle], list[str]]:
    """Every conversation (checked completely) and notes on what was left out."""
    bundles = []
    skipped = 0
    for i, item in enumerate(doc):
        bundle, left_out = chatgpt_conversation(Fields(file, f"[{i}]", item))
        bundles.append(bundle)
        skipped += left_out
    return bundles, skipped_notes(skipped)


def skipped_notes(skipped: int) -> list[str]:
    if not skipped:
        return []
    return [f"left out {skipped} tool, hidden or non-text message{'s' * (skipped != 1)}"]
