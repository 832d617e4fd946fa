"""export --gguf: the converted file gives transformers' logits in llama.cpp, quantized files score close,
and what cannot be converted or quantized here says so in one line (exit 2)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

from kubetrainer.cli import main
from kubetrainer.config import Settings
from kubetrainer.errors import UserError
from kubetrainer.train import engine, gguf_convert, gguf_eval
from kubetrainer.train.config import TrainConfig
from tests.train.tiny import qa_records, write_jsonl

needs_llama = pytest.mark.usefixtures("llama_cpp")  # tests/conftest.py: installed before these run, or they fail
CACHE = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
TEXT = "The pod web-1 restarts because its container is OOMKilled. Why is db-0 pending? GPU 3 reported Xid 79."


def _llama(path: Path, n_ctx: int = 128):
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=n_ctx, logits_all=True, verbose=False)


def _logits_both(model_dir: Path, quant: str, out: Path, text: str = TEXT) -> tuple[np.ndarray, np.ndarray, list, list]:
    """(transformers logits, llama.cpp logits, HF ids, llama.cpp's own ids) for `text` through a fresh GGUF."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.save_pretrained(out)
    gguf_convert.write_gguf(model, tokenizer, out, out / "m.gguf", quant)
    ids = tokenizer(text)["input_ids"]
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    llama = _llama(out / "m.gguf")
    try:
        llama.eval(ids)
        return expected, np.array(llama.scores[:len(ids)]), ids, llama.tokenize(text.encode(), add_bos=False, special=True)
    finally:
        llama.close()


@needs_llama
@pytest.mark.parametrize(("quant", "atol"), [("f32", 1e-4), ("f16", 2e-2)])
def test_a_converted_llama_gives_transformers_logits_in_llama_cpp(tiny_model_dir, tmp_path, quant, atol):
    expected, got, ids, llama_ids = _logits_both(tiny_model_dir, quant, tmp_path)
    np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    assert llama_ids == ids  # llama.cpp tokenizes like the HF tokenizer (gpt-2 pre-tokenizer, no BOS)


@needs_llama
def test_a_converted_qwen2_with_attention_biases_gives_transformers_logits(tiny_tokenizer, tmp_path):
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, eos_token_id=tiny_tokenizer.eos_token_id)
    model_dir = tmp_path / "qwen2"
    Qwen2ForCausalLM(config).save_pretrained(model_dir)
    tiny_tokenizer.save_pretrained(model_dir)
    expected, got, _, _ = _logits_both(model_dir, "f32", tmp_path)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_rope_permutation_interleaves_each_heads_halves():
    weight = np.arange(8)[:, None].repeat(3, axis=1)  # 2 heads of 4 rows: HF keeps (x0 x1 | y0 y1) per head
    assert gguf_convert.permute_rope(weight, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_the_pre_tokenizer_is_named_by_how_it_splits():
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    smollm = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level]}
    assert gguf_convert.pre_tokenizer({"model": {"type": "BPE"}, "pre_tokenizer": byte_level}) == "gpt-2"
    assert gguf_convert.pre_tokenizer({"model": {"type": "BPE"}, "pre_tokenizer": smollm}) == "smollm"
    with pytest.raises(UserError, match="pre-tokenizer"):
        gguf_convert.pre_tokenizer({"model": {"type": "BPE"}, "pre_tokenizer": {**byte_level, "add_prefix_space": True}})
    with pytest.raises(UserError) as refused:
        gguf_convert.pre_tokenizer({"model": {"type": "BPE", "byte_fallback": True}, "pre_tokenizer": byte_level})
    assert "SentencePiece vocabularies are not supported" in refused.value.render()


def test_uniform_logits_score_the_vocabulary_size():
    result = gguf_eval.score([index % 50 for index in range(1000)], lambda ids: np.zeros((len(ids), 50)), window=64)
    assert result.tokens == 999 and math.isclose(result.perplexity, 50.0)


@needs_llama
def test_a_run_exports_merged_and_quantized_q8_0_with_close_perplexity(tmp_path, tiny_model_dir, capfd):
    home, out = tmp_path / "home", tmp_path / "edge"
    config = TrainConfig(dataset=write_jsonl(tmp_path / "qa.jsonl", qa_records(16)), model=str(tiny_model_dir),
                         learning_rate=5e-2, max_steps=2, batch_tokens=200, warmup_steps=0, eval_every=2)
    engine.run(config, Settings(home=home))
    capfd.readouterr()
    args = ["--home", str(home), "export", "./checkpoints/latest", "--gguf", "--quant", "q8_0", "--out", str(out)]
    assert main([*args, "--eval-tokens", "600", "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["quant"] == "q8_0" and report["size_bytes"] == (out / "model-q8_0.gguf").stat().st_size
    assert report["perplexity"]["gguf"]["tokens"] == report["perplexity"]["transformers"]["tokens"] == 599
    assert abs(report["perplexity"]["ratio"] - 1) < 0.01
    assert sorted(path.name for path in out.iterdir()) == ["chat_template.jinja", "model-q8_0.gguf", "tokenizer.json",
                                                          "tokenizer_config.json"]
    text = tmp_path / "held-out.txt"
    text.write_text("Node gpu-a has condition MemoryPressure=True.\n" * 20)
    assert main([*args, "--force", "--quant", "q4_k_m", "--eval-text", str(text)]) == 0
    printed = capfd.readouterr()
    assert "model-q4_k_m.gguf" in printed.out and "GGUF q4_k_m" in printed.out and "transformers (float32)" in printed.out
    assert "falling back" not in printed.err  # llama.cpp's per-tensor lines (32 columns do not fit q4_K) kept aside
    assert [path.name for path in out.glob("*.gguf")] == ["model-q4_k_m.gguf"], "the q8_0 of the first export is gone"


def test_an_unsupported_architecture_is_one_line_and_writes_nothing(tmp_path, tiny_tokenizer, capsys):
    model_dir, out = tmp_path / "gpt2", tmp_path / "out"
    config = GPT2Config(vocab_size=len(tiny_tokenizer), n_embd=16, n_layer=1, n_head=2,
                        bos_token_id=tiny_tokenizer.bos_token_id, eos_token_id=tiny_tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(model_dir)
    tiny_tokenizer.save_pretrained(model_dir)
    capsys.readouterr()
    assert main(["--home", str(tmp_path / "home"), "export", str(model_dir), "--gguf", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "GPT2LMHeadModel" in err and "LlamaForCausalLM" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_without_llama_cpp_python_quantizing_says_how_to_get_it(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if the optional wheel were not installed
    home, out = str(tmp_path / "home"), tmp_path / "out"
    assert main(["--home", home, "export", str(tiny_model_dir), "--gguf", "--quant", "q8_0", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "llama-cpp-python is not installed" in err and "make setup-test" in err and len(err.splitlines()) == 1
    assert not out.exists()
    assert main(["--home", home, "export", str(tiny_model_dir), "--gguf", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["quant"] == "f16" and report["perplexity"]["gguf"] is None and (out / "model-f16.gguf").is_file()


def test_gguf_options_need_gguf(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out"
    assert main(["--home", str(tmp_path), "export", str(tiny_model_dir), "--quant", "q8_0", "--out", str(out)]) == 2
    assert "--quant applies to a GGUF export" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "export", str(tiny_model_dir), "--gguf", "--quant", "q3", "--out", str(out)]) == 2
    assert "unknown quantization 'q3'" in capsys.readouterr().err
    assert not out.exists()


@needs_llama
@pytest.mark.slow
def test_the_bundled_smollm2_converts_and_scores_like_transformers_and_the_shipped_gguf(tmp_path):
    from kubetrainer.models.bundled import ensure_default_llm, smollm2_gguf_path

    model_dir = ensure_default_llm(CACHE / "test-models")
    text = "I0314 11:57:48.911587 1 serving.go:374] Generated self-signed cert 12345 <|im_start|>user hi"
    expected, got, ids, llama_ids = _logits_both(model_dir, "f16", tmp_path, text)
    assert llama_ids == ids and (got.argmax(axis=1) == expected.argmax(axis=1)).mean() > 0.95
    assert np.abs(got - expected).max() < 0.2  # f16 weights; logits reach ~35
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    eval_ids = gguf_eval.eval_ids(AutoTokenizer.from_pretrained(model_dir), gguf_eval.default_text(), 512)
    hf = gguf_eval.score(eval_ids, gguf_eval.hf_logits(model)).perplexity
    for path, tolerance in ((tmp_path / "m.gguf", 0.002), (smollm2_gguf_path(), 0.02)):
        with gguf_eval.gguf_logits(path, threads=1) as logits_of:
            assert abs(gguf_eval.score(eval_ids, logits_of).perplexity / hf - 1) < tolerance, path.name
