"""The shipped tokenizers and chat templates, checked against references no one here
wrote: tiktoken's own o200k_harmony, Mistral's own Tekkenizer (mistral-common, a
test-only dependency), and the makers' templates as Jinja renders them. llama.cpp's
tokenizer and server are the reference for Llama 3 and Qwen (test_counts_vs_llama_cpp.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core import tokenizers
from desktop_app.core.assemble import AssemblyInput, assemble
from desktop_app.core.budget import builtin_profile
from desktop_app.core.catalog import lookup_model
from desktop_app.core.families import family_of
from desktop_app.core.records import Message
from desktop_app.core.tokens import (
    chat_framing,
    count_chat,
    count_prompt,
    count_text,
    get_encoding,
    message_tokens,
    rendered_prompt_tokens,
)

# Text kinds a user sends: prose, code, JSON, digit tables, CJK, emoji, European
# languages with accents and Cyrillic, whitespace runs, Markdown.
CORPUS = {
    "english": "The quick brown fox jumps over the lazy dog. It wasn't me, they'd said.",
    "code": "def total(xs: list[int]) -> int:\n    return sum(x * 2 for x in xs)  # doubled\n",
    "json": '{"id": 12345, "name": "Ada", "tags": ["a", "b"], "ok": true, "n": null}',
    "digits": "| 2024 | 1,234,567.89 | 0.000123 |\n| 31415926535 | 42 | -7e10 |",
    "chinese": "上下文窗口决定了模型一次能读多少内容，预算要精确到每一个词元。",
    "japanese": "トークン予算を確認してから、メッセージを送信してください。",
    "emoji": "Launch 🚀 went fine 👍🏽 — family: 👨‍👩‍👧‍👦, flags 🇫🇷🇯🇵",
    "german": "Größenänderung der Straßenbahnhaltestelle über Nacht: schön, äußerst.",
    "russian": "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "whitespace": "a  b   c\t\td\n\n\ne    \n  \t f",
    "markdown": "# Title\n\n- **bold** and _it_\n- [link](http://x.y/z?q=1)\n\n```py\nx=1\n```",
}
SHIPPED = [name for name, spec in tokenizers.SPECS.items() if not spec.openai]


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_tokenizer_loads_from_its_pinned_file(name):
    enc = get_encoding(name)
    spec = tokenizers.SPECS[name]
    # every special token the spec names is one token, with the maker's id
    for text, token_id in list(spec.specials.items())[:50]:
        assert enc.encode(text, allowed_special="all") == [token_id]
    assert count_text(CORPUS["english"], name) > 5


def test_a_damaged_compressed_file_is_refused(monkeypatch, tmp_path):
    folder = tmp_path / "tokenizers" / "qwen"
    folder.mkdir(parents=True)
    (folder / "qwen.tiktoken.xz").write_bytes(b"not xz at all")
    monkeypatch.setattr(tokenizers, "resource", lambda *parts: tmp_path.joinpath(*parts))
    monkeypatch.setattr(tokenizers, "_encodings", {})
    with pytest.raises(tokenizers.EncodingError, match="damaged"):
        tokenizers.get_encoding("qwen2")


def test_o200k_harmony_is_tiktokens_own(tmp_path, monkeypatch):
    """tiktoken defines o200k_harmony on top of o200k_base; ours must be the same
    encoding (pattern, ranks, every special token)."""
    import tiktoken_ext.openai_public as public
    from tiktoken import load

    # tiktoken would download o200k_base: hand it the shipped file instead
    monkeypatch.setattr(load, "read_file_cached", lambda *_a, **_k: tokenizers.resource(
        "tiktoken", "o200k_base.tiktoken").read_bytes())
    theirs = public.o200k_harmony()
    ours = get_encoding("o200k_harmony")
    assert ours._pat_str == theirs["pat_str"]
    assert ours._special_tokens == theirs["special_tokens"]
    assert ours._mergeable_ranks == theirs["mergeable_ranks"]


def test_tekken_equals_mistral_commons_tekkenizer():
    pytest.importorskip("mistral_common", reason="mistral-common is in the test extras")
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    tekkenizer = MistralTokenizer.v3(is_tekken=True).instruct_tokenizer.tokenizer
    enc = get_encoding("tekken")
    for kind, text in CORPUS.items():
        assert enc.encode_ordinary(text) == tekkenizer.encode(text, bos=False, eos=False), kind


@pytest.mark.parametrize(("name", "tokenizer", "template"), [
    ("llama3.1:8b", "llama3", "llama-3.1"),
    ("llama3.3:70b-instruct-q4_K_M", "llama3", "llama-3.1"),
    ("hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M", "llama3", "llama-3.1"),
    ("Meta-Llama-3-8B-Instruct.Q4_0.gguf", "llama3", "llama-3"),
    ("llama3.2:3b", "llama3", "llama-3.2"),
    ("qwen2.5:7b-instruct-q4_K_M", "qwen2", "qwen-2.5"),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", "qwen2", "qwen-2.5"),
    ("qwen2:7b", "qwen2", "qwen-2"),
    ("qwen3:8b", "qwen2", "qwen-3"),
    ("mistral-nemo", "tekken", "mistral-nemo"),
    ("gpt-oss:20b", "o200k_harmony", "gpt-oss"),
    ("phi4:14b", "phi4", "phi-4"),
])
def test_names_people_type_find_their_tokenizer(name, tokenizer, template):
    model = lookup_model(name)
    assert (model.encoding, model.template, model.exact) == (tokenizer, template, True)
    assert "shipped" in model.counting_source()


@pytest.mark.parametrize("name", ["gemma3:12b", "deepseek-r1:7b", "mistral:7b", "phi3:mini"])
def test_families_without_a_shipped_tokenizer_stay_estimated_and_say_so(name):
    model = lookup_model(name)
    assert not model.exact and family_of(name) is not None
    assert "estimated" in model.counting_source()
    assert "not shipped" in model.counting_source()


def test_openai_models_keep_tiktoken_and_openais_rule():
    model = lookup_model("gpt-4o")
    assert (model.encoding, model.template) == ("o200k_base", None)
    assert chat_framing(model).source == "OpenAI's published rule"


# Templates that frame every message alike. Qwen 3 (thinking blocks after the last
# question), Mistral (the system prompt goes inside the last [INST]) and gpt-oss (history
# rendered by channel) do not: their requests are counted exact by rendering (below).
UNIFORM = ["llama3:8b", "llama3.1:8b", "llama3.2:3b", "qwen2.5:7b", "qwen2:7b", "qwq", "phi4"]
words = st.sampled_from(["Hello", "world", "1234", "大小", "émoji 🙂", "x=1;", "-", "The"])
contents = st.lists(words, min_size=1, max_size=6).map(" ".join)


@st.composite
def chats(draw):
    chat = []
    if draw(st.booleans()):
        chat.append({"role": "system", "content": draw(contents)})
    for i in range(draw(st.integers(1, 6))):
        chat.append({"role": ("user", "assistant")[i % 2], "content": draw(contents)})
    if chat[-1]["role"] != "user":
        chat.append({"role": "user", "content": draw(contents)})
    return chat


@pytest.mark.parametrize("name", UNIFORM)
@settings(max_examples=30, deadline=None)
@given(chat=chats())
def test_framing_and_contents_add_up_to_the_rendered_prompt(name, chat):
    """For ordinary text the per-message figures (framing + content) and the request's
    fixed part add up to the exact count of the rendered template: one number per
    message, and the parts sum to the whole."""
    model = lookup_model(name)
    framing = chat_framing(model)
    parts = framing.fixed(chat[0]["role"] == "system") + sum(
        message_tokens(m, model, framing)[0] for m in chat)
    exact = count_chat(chat, model)
    assert exact.exact and exact.tokens == parts


odd = st.text(st.sampled_from(list("ab 1\n\t大🙂-<|>")), min_size=1, max_size=30)


@pytest.mark.parametrize("name", ["llama3.1:8b", "qwen2.5:7b", "qwen3:8b", "mistral-nemo",
                                  "gpt-oss:20b"])
@settings(max_examples=25, deadline=None)
@given(pairs=st.lists(st.tuples(odd, odd), max_size=3), draft=odd, system=odd)
def test_an_assembled_request_is_the_rendered_prompts_exact_count(name, pairs, draft, system):
    """Whatever the text (leading newlines, trailing spaces a template trims, look-alike
    special tokens), the assembled request's total is the rendered prompt's count."""
    model = lookup_model(name)
    # user and assistant turns alternate (Mistral's template insists)
    texts = [t for pair in pairs for t in pair]
    history = [Message(("user", "assistant")[i % 2], t, id=i + 1, position=i)
               for i, t in enumerate(texts)]
    req = assemble(AssemblyInput(system_prompt=system, messages=history, draft=draft,
                                 model=model, profile=builtin_profile("default")))
    assert req.fits
    rendered = rendered_prompt_tokens(req.messages, model)
    assert rendered is not None  # the template accepts the request
    assert req.tokens == rendered
    assert req.tokens == req.report.request_tokens


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.sampled_from(
    ["Hello", " world", "\n\n", "大小", "<|im_start|>", "<|eot_id|>", "<|begin_of_text|>",
     "[INST]", "<s>", "<|", "|>", "  ", "123"]), max_size=30),
    name=st.sampled_from(SHIPPED))
def test_count_prompt_is_tiktokens_count_with_special_tokens(pieces, name):
    text = "".join(pieces)
    spec = tokenizers.SPECS[name]
    body = text[len(spec.bos):] if spec.bos and text.startswith(spec.bos) else text
    expected = len(get_encoding(name).encode(body, allowed_special="all")) + bool(spec.bos)
    assert count_prompt(text, name) == expected
