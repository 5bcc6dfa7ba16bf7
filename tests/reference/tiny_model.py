"""Tiny servable models for the llama.cpp reference: a real vocabulary and chat template,
random weights.

llama.cpp's vocab-only GGUFs (models/ggml-vocab-*.gguf) carry a real tokenizer but no
weights, so llama-tokenize can load them and llama-server cannot. `write_tiny_model`
copies every `tokenizer.ggml.*` key of such a file, byte for byte, into a one-layer
llama-architecture model with 16-wide random weights, and sets `tokenizer.chat_template`.
llama-server loads it in a fraction of a second, tokenizes, applies the template and even
"generates" (noise: the weights are random), so /tokenize, /apply-template and the usage of
/v1/chat/completions are llama.cpp's own for that vocabulary and template.

The llama architecture needs the fewest tensors of those the server serves: token_embd,
output_norm and 9 per layer (no bias, no position embedding; `output` falls back to the
tied token_embd). Architecture keys of the vocab file (qwen2.*, phi3.*, ...) are not
copied: none of them changes how text is tokenized or a template applied.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter

ARCH = "llama"
N_EMBD = 16
N_HEAD = 2
N_HEAD_KV = 2
N_FF = 32
N_LAYER = 1
# The training context the model claims: llama-server warns when -c exceeds it.
N_CTX_TRAIN = 131072


_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}

Field = tuple[Any, GGUFValueType, GGUFValueType | None]


def read_metadata(gguf_file: Path) -> dict[str, Field]:
    """The key/value metadata of a little-endian GGUF (v2 or v3) file, each value as
    GGUFWriter.add_key_value takes it: (value, type, array item type); strings as raw
    bytes, so that a vocabulary's token texts are copied exactly whatever their encoding.

    gguf.GGUFReader does the same but makes a numpy view per array item: 12 s for the
    128k tokens and 280k merges of llama-bpe. This takes a fraction of a second.
    """
    data = Path(gguf_file).read_bytes()
    if data[:4] != b"GGUF":
        raise ValueError(f"{gguf_file}: not a GGUF file")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    if version < 2:
        raise ValueError(f"{gguf_file}: GGUF version {version} is not supported")
    pos = 24

    def string() -> bytes:
        nonlocal pos
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + length
        return data[pos - length : pos]

    def scalar(vtype: GGUFValueType) -> Any:
        nonlocal pos
        fmt = "<" + _SCALARS[vtype]
        (value,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    fields: dict[str, Field] = {}
    for _ in range(n_kv):
        key = string().decode("utf-8")
        vtype = GGUFValueType(scalar(GGUFValueType.UINT32))
        if vtype == GGUFValueType.STRING:
            fields[key] = (string(), vtype, None)
        elif vtype == GGUFValueType.ARRAY:
            sub = GGUFValueType(scalar(GGUFValueType.UINT32))
            count = scalar(GGUFValueType.UINT64)
            if sub == GGUFValueType.STRING:
                items: list[Any] = [string() for _ in range(count)]
            elif sub in _SCALARS:
                dtype = np.dtype("<" + _SCALARS[sub])
                items = np.frombuffer(data, dtype, count, pos).tolist()
                pos += dtype.itemsize * count
            else:
                raise ValueError(f"{gguf_file}: {key}: arrays of {sub.name} are not supported")
            fields[key] = (items, vtype, sub)
        else:
            fields[key] = (scalar(vtype), vtype, None)
    return fields


def tokenizer_fields(vocab_gguf: Path) -> dict[str, Field]:
    """Every `tokenizer.ggml.*` key of a GGUF file: value, type, array item type."""
    return {k: v for k, v in read_metadata(vocab_gguf).items() if k.startswith("tokenizer.ggml.")}


def write_tiny_model(
    vocab_gguf: Path,
    template: str | Path | None,
    out: Path,
    *,
    name: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a tiny random-weight llama model to `out` with the tokenizer of `vocab_gguf`.

    `template`: the chat template, as its Jinja source (str) or a .jinja file (Path); None
    writes no `tokenizer.chat_template`, so that llama-server falls back to its default.
    Returns `out`. The same arguments give the same bytes.
    """
    fields = tokenizer_fields(vocab_gguf)
    if "tokenizer.ggml.tokens" not in fields:
        raise ValueError(f"{vocab_gguf}: no tokenizer.ggml.tokens")
    n_vocab = len(fields["tokenizer.ggml.tokens"][0])
    if isinstance(template, Path):
        template = template.read_text(encoding="utf-8")

    out.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(out, ARCH)
    writer.add_name(name or f"tiny-{Path(vocab_gguf).stem.removeprefix('ggml-vocab-')}")
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(1)  # mostly f16
    for key, (value, vtype, sub_type) in fields.items():
        writer.add_key_value(key, value, vtype, sub_type)
    if template is not None:
        writer.add_chat_template(template)

    rng = np.random.default_rng(seed)

    def weight(*shape: int, dtype: type = np.float32) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape) * 0.02).astype(dtype)

    head_dim = N_EMBD // N_HEAD
    # numpy shapes are (rows, columns) = ggml's (ne[1], ne[0]).
    writer.add_tensor(
        "token_embd.weight",
        weight(n_vocab, N_EMBD, dtype=np.float16),
        raw_dtype=GGMLQuantizationType.F16,
    )
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    for i in range(N_LAYER):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(N_HEAD * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(N_EMBD, N_HEAD * head_dim))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(N_EMBD, N_FF))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
