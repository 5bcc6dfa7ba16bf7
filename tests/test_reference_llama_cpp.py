"""The llama.cpp reference works: llama-tokenize and llama-server (built by
.ci/llama_cpp.sh) agree with each other and with Hugging Face's ids for llama.cpp's test
strings, and a chat request's prompt_tokens is the length of its rendered template
tokenized with specials. Everything written goes to temporary folders.

The first run on a machine builds the reference (~10 minutes; the cache then makes it
instant): the timeout below allows for that only when the cache is not there yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reference import llama_cpp
from tests.reference.tiny_model import read_metadata, write_tiny_model

pytestmark = pytest.mark.timeout(120 if llama_cpp.is_complete(llama_cpp.default_home()) else 3600)

# Llama 3's BOS and <|eot_id|>.
BOS, EOT = 128000, 128009
# Plain text that a careless tokenizer call gets wrong: a special token's text, escapes
# that llama-tokenize would process without --no-escape, leading/trailing whitespace and
# newlines, non-BMP and combining characters, CRLF, NUL, a lone trailing space.
TRICKY = (
    '  Hello <|eot_id|> <|begin_of_text|>\\n\\t "quoted"\r\n'
    "naïve café 東京 🦙🙂 e\u0301 \u200b\x00 tabs\t\tend \n\n "
)
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hello there, how many tokens is this?"},
    {"role": "assistant", "content": "A few."},
    {"role": "user", "content": "Count again: <|eot_id|> is text here, 🦙."},
]
# Llama 3.1's template writes today's date unless given one.
FIXED_DATE = {"chat_template_kwargs": {"date_string": "26 Jul 2024"}}


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> Path:
    """The reference's folder, built first if needed with its progress shown."""
    if llama_cpp.is_complete(llama_cpp.default_home()):
        return llama_cpp.home()
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return llama_cpp.home()
    with capture.global_and_fixture_disabled():
        return llama_cpp.home()


@pytest.fixture(scope="session")
def llama31_model(reference: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(
        llama_cpp.vocab_path("llama-bpe", reference),
        llama_cpp.template_path("meta-llama-Llama-3.1-8B-Instruct", reference),
        tmp_path_factory.mktemp("models") / "tiny-llama31.gguf",
    )


@pytest.fixture(scope="module")
def llama31(llama31_model: Path, reference: Path) -> Iterator[str]:
    with llama_cpp.serve(llama31_model, n_ctx=512, folder=reference) as url:
        yield url


def test_reference_has_what_the_tests_use(reference: Path) -> None:
    assert (reference / "COMPLETE").read_text().startswith("layout=")
    assert {"llama-bpe", "llama-spm", "qwen2", "phi-3"} <= set(llama_cpp.vocabs(reference))
    assert {
        "meta-llama-Llama-3.1-8B-Instruct",
        "Qwen-Qwen2.5-7B-Instruct",
        "mistralai-Mistral-Nemo-Instruct-2407",
        "microsoft-Phi-3.5-mini-instruct",
    } <= set(llama_cpp.templates(reference))


def test_tiny_model_carries_the_vocab_and_template(reference: Path, tmp_path: Path) -> None:
    from gguf import GGUFReader  # slow on big vocabularies: phi-3's 32k tokens only

    vocab = llama_cpp.vocab_path("phi-3", reference)
    template = llama_cpp.template_path("microsoft-Phi-3.5-mini-instruct", reference)
    model = write_tiny_model(vocab, template, tmp_path / "tiny-phi3.gguf")

    assert model.stat().st_size < 4_000_000
    ours = read_metadata(model)
    source = read_metadata(vocab)
    copied = {k: v for k, v in source.items() if k.startswith("tokenizer.ggml.")}
    assert {k: v for k, v in ours.items() if k.startswith("tokenizer.ggml.")} == copied
    assert ours["tokenizer.chat_template"][0] == template.read_bytes()
    assert ours["general.architecture"][0] == b"llama"

    # read_metadata reads what gguf's own reader reads.
    reader = GGUFReader(model)
    assert reader.fields["tokenizer.ggml.tokens"].contents() == [
        t.decode("utf-8") for t in ours["tokenizer.ggml.tokens"][0]
    ]
    assert reader.fields["tokenizer.ggml.scores"].contents() == ours["tokenizer.ggml.scores"][0]
    assert reader.fields["tokenizer.chat_template"].contents() == template.read_text("utf-8")
    assert len(reader.tensors) == 2 + 9


def test_cli_tokenizer_flags(reference: Path) -> None:
    vocab = llama_cpp.vocab_path("llama-bpe", reference)
    text = "Hi <|eot_id|>\\n"
    plain = llama_cpp.tokenize(vocab, text, add_special=False, parse_special=False)
    special = llama_cpp.tokenize(vocab, text, add_special=True, parse_special=True)
    assert EOT not in plain and BOS not in plain
    assert special[0] == BOS and EOT in special
    assert special[1:] != plain
    # --no-escape: the backslash and the n stay two characters ("\\n" is not "\n").
    assert llama_cpp.tokenize(vocab, "\\n", add_special=False, parse_special=False) != (
        llama_cpp.tokenize(vocab, "\n", add_special=False, parse_special=False)
    )
    assert llama_cpp.tokenize(vocab, "", add_special=False, parse_special=False) == []
    assert llama_cpp.tokenize(vocab, "", add_special=True, parse_special=False) == [BOS]


def test_cli_and_server_tokenize_alike(reference: Path, llama31_model: Path, llama31: str) -> None:
    vocab = llama_cpp.vocab_path("llama-bpe", reference)
    for add_special in (False, True):
        for parse_special in (False, True):
            flags = {"add_special": add_special, "parse_special": parse_special}
            cli = llama_cpp.tokenize(vocab, TRICKY, **flags, folder=reference)
            assert cli == llama_cpp.server_tokenize(llama31, TRICKY, **flags), flags
    # The tiny model's vocabulary is the vocab file's.
    flags = {"add_special": True, "parse_special": True}
    assert llama_cpp.tokenize(llama31_model, TRICKY, **flags, folder=reference) == cli


@pytest.mark.parametrize("vocab_name", ["llama-bpe", "qwen2", "phi-3", "llama-spm"])
def test_server_matches_hugging_face_ids(reference: Path, tmp_path: Path, vocab_name: str) -> None:
    """llama.cpp's own test vectors (vocab/*.inp, *.out: Hugging Face's ids, no
    specials) through a tiny model built on that vocab."""
    vocab = llama_cpp.vocab_path(vocab_name, reference)
    cases = Path(f"{vocab}.inp").read_text("utf-8").split("\n__ggml_vocab_test__\n")
    lines = Path(f"{vocab}.out").read_text().splitlines()
    expected = [[int(t) for t in line.split()] for line in lines]
    if len(cases) == len(expected) + 1 and cases[-1] == "":
        cases.pop()
    assert len(cases) == len(expected) > 40

    model = write_tiny_model(vocab, None, tmp_path / "tiny.gguf")
    with llama_cpp.serve(model, folder=reference) as url:
        got = [
            llama_cpp.server_tokenize(url, case, add_special=False, parse_special=False)
            for case in cases
        ]
    assert got == expected


def test_chat_prompt_tokens_are_the_tokenized_template(reference: Path, llama31: str) -> None:
    prompt = llama_cpp.apply_template(llama31, MESSAGES, **FIXED_DATE)
    # The template writes <|begin_of_text|> first; the server cuts it and the
    # tokenizer's add_special puts it back as the BOS id.
    assert prompt.startswith("<|start_header_id|>system<|end_header_id|>\n\n")
    assert "Today Date: 26 Jul 2024" in prompt
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")

    ids = llama_cpp.prompt_token_ids(llama31, MESSAGES, **FIXED_DATE)
    assert ids[0] == BOS and ids.count(BOS) == 1
    # parse_special applies to the whole rendered prompt, message text included: the
    # user's "<|eot_id|>" is one special token, like the template's own.
    assert ids.count(EOT) == len(MESSAGES) + 1

    completion = llama_cpp.chat_completion(llama31, MESSAGES, max_tokens=1, **FIXED_DATE)
    usage = completion["usage"]
    assert usage["prompt_tokens"] == len(ids)
    assert usage["completion_tokens"] <= 1
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert llama_cpp.input_tokens(llama31, MESSAGES, **FIXED_DATE) == len(ids)
    cli = llama_cpp.tokenize(
        llama_cpp.vocab_path("llama-bpe", reference), prompt, add_special=True, parse_special=True
    )
    assert cli == ids


def test_context_overflow_is_reported_with_the_count(llama31: str) -> None:
    long = [{"role": "user", "content": "word " * 600}]
    n = llama_cpp.input_tokens(llama31, long)
    assert n > 512
    status, answer = llama_cpp.request(
        llama31, "POST", "/v1/chat/completions", {"messages": long, "max_tokens": 1}
    )
    assert status == 400
    assert answer["error"]["type"] == "exceed_context_size_error"
    assert answer["error"]["n_prompt_tokens"] == n
    assert answer["error"]["n_ctx"] == 512


@pytest.mark.parametrize(
    ("vocab_name", "template_name", "first"),
    [
        ("qwen2", "Qwen-Qwen2.5-7B-Instruct", "<|im_start|>system\nYou are terse.<|im_end|>"),
        ("phi-3", "microsoft-Phi-3.5-mini-instruct", "<|system|>\nYou are terse.<|end|>"),
        # No Mistral (Tekken) vocabulary ships with llama.cpp: the template is real, the
        # vocabulary a stand-in, so only the server's own consistency is checked.
        ("llama-spm", "mistralai-Mistral-Nemo-Instruct-2407", "[INST]Hello there"),
    ],
)
def test_other_families_count_alike(
    reference: Path, tmp_path: Path, vocab_name: str, template_name: str, first: str
) -> None:
    model = write_tiny_model(
        llama_cpp.vocab_path(vocab_name, reference),
        llama_cpp.template_path(template_name, reference),
        tmp_path / "tiny.gguf",
    )
    with llama_cpp.serve(model, folder=reference) as url:
        prompt = llama_cpp.apply_template(url, MESSAGES)
        assert prompt.startswith(first)
        ids = llama_cpp.prompt_token_ids(url, MESSAGES)
        assert llama_cpp.input_tokens(url, MESSAGES) == len(ids)
        usage = llama_cpp.chat_completion(url, MESSAGES, max_tokens=1)["usage"]
        assert usage["prompt_tokens"] == len(ids)
