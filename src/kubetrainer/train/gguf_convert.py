"""A Hugging Face Llama-family model -> a GGUF file llama.cpp loads, at f32 or f16.

Our own converter over the `gguf` package, following what llama.cpp's convert_hf_to_gguf.py writes
for `LlamaForCausalLM` (SmolLM2, TinyLlama-style) and `Qwen2ForCausalLM`, so that the file gives
the logits transformers gives for the same token ids:

- Tensors are renamed with gguf's own HF -> GGUF name map. Llama's q/k projections are permuted
  back from HF's rotate-half layout to the interleaved pairs llama.cpp's rope expects (HF's
  conversion script permuted Meta's weights the other way); Qwen2 is stored as is. A tied
  `lm_head` is not written: llama.cpp reuses `token_embd` when `output` is absent.
- 1-D tensors and norms stay f32 (llama.cpp computes them in f32); the rest is f32 or f16.
- The tokenizer is written as a byte-level BPE ("gpt2") vocabulary: tokens, types (control for
  special tokens) and merges, with the pre-tokenizer named after the regexes the HF tokenizer
  splits with, and BOS/EOS added exactly when the HF tokenizer adds them to plain text. So
  llama.cpp tokenizes like the HF tokenizer, and the chat template travels along.

Anything else (other architectures, SentencePiece vocabularies, rope scaling) is refused with a
UserError that names what is supported, before any file is written. Quantizing below f16 is
llama.cpp's job (`train.quantize`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from kubetrainer.errors import UserError

ARCHITECTURES = {"LlamaForCausalLM": gguf.MODEL_ARCH.LLAMA, "Qwen2ForCausalLM": gguf.MODEL_ARCH.QWEN2}
FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}
SUPPORTED = "LlamaForCausalLM (SmolLM2, Llama) or Qwen2ForCausalLM with a byte-level BPE tokenizer"

# The HF pre-tokenizer configurations llama.cpp implements, by the name its GGUF key uses.
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = _LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")
_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}
_BYTE_LEVEL_ONLY = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}


def architecture(config: Mapping[str, Any]) -> gguf.MODEL_ARCH:
    """The GGUF architecture of a transformers config.json, or the UserError that says what is supported."""
    names = config.get("architectures") or [config.get("model_type", "unknown")]
    arch = ARCHITECTURES.get(names[0])
    if arch is None:
        raise UserError(f"cannot convert {names[0]} to GGUF", where="--gguf", expected=SUPPORTED)
    rope = config.get("rope_scaling") or config.get("rope_parameters") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise UserError(f"cannot convert rope scaling {rope.get('rope_type') or rope.get('type')!r} to GGUF",
                        where="--gguf", expected="a model with plain rope (rope_type default)")
    return arch


def rope_theta(config: Mapping[str, Any]) -> float:
    """transformers 5 keeps rope_theta under rope_parameters, older versions at the top level."""
    return float((config.get("rope_parameters") or {}).get("rope_theta") or config.get("rope_theta", 10000.0))


def head_dim(config: Mapping[str, Any]) -> int:
    return int(config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"])


def permute_rope(weight: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotate-half q/k rows (first half, second half of each head) -> llama.cpp's interleaved pairs."""
    rows = weight.shape[0]
    return weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def gguf_tensors(state: Mapping[str, np.ndarray], config: Mapping[str, Any],
                 arch: gguf.MODEL_ARCH) -> Iterator[tuple[str, np.ndarray]]:
    """(GGUF name, f32 array) for every tensor llama.cpp reads, q/k permuted for Llama."""
    names = gguf.get_tensor_name_map(arch, int(config["num_hidden_layers"]))
    n_head, n_kv = int(config["num_attention_heads"]), int(config.get("num_key_value_heads") or config["num_attention_heads"])
    for name, array in state.items():
        if name.endswith("rotary_emb.inv_freq") or (name == "lm_head.weight" and config.get("tie_word_embeddings")):
            continue
        if arch == gguf.MODEL_ARCH.LLAMA and name.endswith(("q_proj.weight", "q_proj.bias")):
            array = permute_rope(array, n_head)
        elif arch == gguf.MODEL_ARCH.LLAMA and name.endswith(("k_proj.weight", "k_proj.bias")):
            array = permute_rope(array, n_kv)
        new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise UserError(f"no GGUF name for tensor {name!r}", where="--gguf", expected=SUPPORTED)
        yield new_name, array


def tensor_type(name: str, array: np.ndarray, file_type: gguf.LlamaFileType) -> gguf.GGMLQuantizationType:
    """f32 for vectors and norms (as llama.cpp's converter and quantizer keep them), else the file's type."""
    if array.ndim <= 1 or name.endswith("_norm.weight") or file_type == gguf.LlamaFileType.ALL_F32:
        return gguf.GGMLQuantizationType.F32
    return gguf.GGMLQuantizationType.F16


def pre_tokenizer(tokenizer_json: Mapping[str, Any]) -> str:
    """llama.cpp's name for the HF tokenizer's pre-tokenizer, read from its structure, or a UserError."""
    model, pre = tokenizer_json.get("model") or {}, tokenizer_json.get("pre_tokenizer") or {}
    normalizer = (tokenizer_json.get("normalizer") or {}).get("type")
    if model.get("type") != "BPE" or model.get("byte_fallback") or normalizer not in (None, "NFC"):  # Qwen2 asks NFC
        raise UserError("cannot convert this tokenizer to GGUF", where="--gguf",
                        expected="a byte-level BPE tokenizer (GPT-2 style); SentencePiece vocabularies are not supported")
    steps = [_pre_step(step) for step in pre.get("pretokenizers", [pre])]
    known = {
        "gpt-2": [_BYTE_LEVEL],
        "smollm": [{"type": "Digits", "individual_digits": True}, _BYTE_LEVEL],
        "llama-bpe": [{"type": "Split", "pattern": _LLAMA3_SPLIT}, _BYTE_LEVEL_ONLY],
        "qwen2": [{"type": "Split", "pattern": _QWEN2_SPLIT}, _BYTE_LEVEL_ONLY],
    }
    for name, expected in known.items():
        if steps == expected:
            return name
    raise UserError(f"cannot convert the pre-tokenizer {json.dumps(pre)[:200]} to GGUF", where="--gguf",
                    expected="GPT-2, SmolLM2, Llama 3 or Qwen2 pre-tokenization")


def _pre_step(step: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one pre-tokenizer step that decide how it splits."""
    if step.get("type") == "ByteLevel":
        return {"type": "ByteLevel", "add_prefix_space": bool(step.get("add_prefix_space")),
                "use_regex": bool(step.get("use_regex", True))}
    if step.get("type") == "Digits":
        return {"type": "Digits", "individual_digits": bool(step.get("individual_digits"))}
    if step.get("type") == "Split":
        return {"type": "Split", "pattern": (step.get("pattern") or {}).get("Regex")}
    return dict(step)


def vocabulary(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """Token strings and types for ids 0..vocab_size-1: ids the tokenizer lacks become unused padding."""
    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for index in range(vocab_size):
        token = by_id.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        elif index in added:
            tokens.append(token)
            looks_special = token.startswith("<|") and token.endswith("|>")
            types.append(gguf.TokenType.CONTROL if added[index].special or looks_special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def adds_special(tokenizer: Any) -> tuple[bool, bool]:
    """(BOS, EOS): whether the HF tokenizer puts them around plain text, which llama.cpp must then do too."""
    ids = tokenizer("a")["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    return bos is not None and ids[:1] == [bos], eos is not None and ids[-1:] == [eos]


def write_gguf(model: Any, tokenizer: Any, tokenizer_dir: Path, path: Path, quant: str) -> None:
    """Write `model` (a transformers causal LM) with its tokenizer (saved in `tokenizer_dir`) to `path`."""
    config = {**model.config.to_dict(), "architectures": [type(model).__name__]}  # the class transformers built
    arch = architecture(config)
    tokenizer_json = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    pre = pre_tokenizer(tokenizer_json)
    file_type = FILE_TYPES[quant]
    state = {name: tensor.detach().float().cpu().numpy() for name, tensor in model.state_dict().items()}
    writer = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[arch])
    try:
        _write_parameters(writer, config, arch, file_type, name=str(config.get("_name_or_path") or path.stem))
        _write_vocabulary(writer, tokenizer, tokenizer_dir, int(config["vocab_size"]), pre)
        for name, array in gguf_tensors(state, config, arch):
            kind = tensor_type(name, array, file_type)
            writer.add_tensor(name, gguf.quants.quantize(array, kind), raw_dtype=kind)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()


def _write_parameters(writer: gguf.GGUFWriter, config: Mapping[str, Any], arch: gguf.MODEL_ARCH,
                      file_type: gguf.LlamaFileType, *, name: str) -> None:
    """The hyper-parameters llama.cpp builds the graph from, as convert_hf_to_gguf.py names them."""
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or config["num_attention_heads"]))
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_key_length(head_dim(config))
    writer.add_value_length(head_dim(config))
    writer.add_file_type(int(file_type))
    if arch == gguf.MODEL_ARCH.LLAMA:
        writer.add_vocab_size(int(config["vocab_size"]))
        writer.add_rope_dimension_count(head_dim(config))


def _write_vocabulary(writer: gguf.GGUFWriter, tokenizer: Any, tokenizer_dir: Path, vocab_size: int, pre: str) -> None:
    tokens, types = vocabulary(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(tokenizer_dir, load_merges=True, n_vocab=vocab_size)
    special.add_special_token["bos"], special.add_special_token["eos"] = adds_special(tokenizer)
    special.add_to_gguf(writer, quiet=True)
