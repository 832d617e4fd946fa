"""PEFT LoRA adapters in llama.cpp: converted to GGUF LoRA (train.gguf_lora), applied per request by the llama.cpp
engine with transformers' PEFT log-probabilities, switched between requests without stale cache; and what llama.cpp
cannot apply refused in one line naming it, before any file is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from kubetrainer.errors import UserError
from kubetrainer.generation.engine import UnknownAdapter
from kubetrainer.generation.params import SamplingParams
from kubetrainer.train import gguf_convert, gguf_lora

TEXT = "The pod web-1 restarts because its container is OOMKilled. Why is db-0 pending?"
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def save_adapter(model_dir: Path, out: Path, *, seed: int, targets: list[str] = ALL_PROJECTIONS, **options) -> Path:
    """A LoRA adapter on the tiny model with random, non-zero A and B (so it changes every logit)."""
    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False, **options)
    get_peft_model(base, config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def base_gguf(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-gguf")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.save_pretrained(out)
    gguf_convert.write_gguf(model, tokenizer, out, out / "m.gguf", "f32")
    return out / "m.gguf"


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {"ops": save_adapter(tiny_model_dir, root / "ops", seed=1),
            "qv": save_adapter(tiny_model_dir, root / "qv", seed=2, targets=["q_proj", "v_proj"])}


def transformers_logprobs(model_dir: Path, adapter: Path | None, ids: list[int]) -> np.ndarray:
    """log p(token i+1 | tokens <= i) from transformers, with the PEFT adapter when one is given."""
    from peft import PeftModel

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter)
    with torch.no_grad():
        logits = model.eval()(input_ids=torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits, dim=-1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()


@pytest.mark.usefixtures("llama_cpp")
def test_llama_cpp_applies_each_adapter_per_request_with_transformers_logprobs(tiny_model_dir, base_gguf, adapters):
    from kubetrainer.generation.llamacpp import LlamaCppEngine

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    engine = LlamaCppEngine.load(base_gguf, tokenizer, n_ctx=128, threads=1, adapters=adapters)
    ids = tokenizer(TEXT)["input_ids"]

    def ours(adapter: str | None) -> np.ndarray:
        return np.array([scored.logprob for scored in engine.prompt_logprobs(ids, 0, adapter=adapter)[1:]])

    for name in (None, "ops", "qv", None, "ops"):  # switching back and forth: no adapter lingers
        expected = transformers_logprobs(tiny_model_dir, adapters.get(name), ids)
        np.testing.assert_allclose(ours(name), expected, atol=2e-3, rtol=0, err_msg=f"adapter {name}")
    assert np.abs(ours("ops") - ours(None)).max() > 0.1  # the adapters do change the model


@pytest.mark.usefixtures("llama_cpp")
def test_generation_after_a_switch_never_reuses_the_other_adapters_cache(tiny_model_dir, base_gguf, adapters):
    """The engine keeps the KV cache of a shared prompt prefix across requests; an adapter change must drop it."""
    from kubetrainer.generation.llamacpp import LlamaCppEngine

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    engine = LlamaCppEngine.load(base_gguf, tokenizer, n_ctx=128, threads=1, adapters={"ops": adapters["ops"]})
    ids = tokenizer(TEXT)["input_ids"]
    greedy = SamplingParams(max_new_tokens=8, temperature=0.0)

    base, tuned = engine.generate(ids, greedy).text, engine.generate(ids, greedy, adapter="ops").text
    assert tuned != base
    assert engine.generate(ids, greedy).text == base and engine.generate(ids, greedy, adapter="ops").text == tuned

    engine.remove_adapter("ops")
    with pytest.raises(UnknownAdapter, match="no adapter 'ops'"):
        engine.generate(ids, greedy, adapter="ops")
    assert engine.generate(ids, greedy).text == base
    engine.load_adapter("again", adapters["ops"])
    assert engine.generate(ids, greedy, adapter="again").text == tuned


@pytest.mark.usefixtures("llama_cpp")
def test_a_gguf_lora_file_is_loaded_as_it_is(tiny_model_dir, base_gguf, adapters, tmp_path):
    from kubetrainer.generation.llamacpp import LlamaCppEngine

    converted = gguf_lora.write_lora_gguf(adapters["qv"], base_gguf, tmp_path / "qv.gguf")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    engine = LlamaCppEngine.load(base_gguf, tokenizer, n_ctx=128, threads=1,
                                 adapters={"from-dir": adapters["qv"], "from-file": converted})
    ids = tokenizer(TEXT)["input_ids"]
    from_dir, from_file = (engine.prompt_logprobs(ids, 0, adapter=name) for name in ("from-dir", "from-file"))
    assert [scored.logprob for scored in from_dir[1:]] == [scored.logprob for scored in from_file[1:]]


def test_the_gguf_names_every_matrix_as_llama_cpp_does_and_permutes_q_and_k(base_gguf, adapters, tmp_path):
    import gguf

    out = gguf_lora.write_lora_gguf(adapters["ops"], base_gguf, tmp_path / "ops.gguf")
    reader = gguf.GGUFReader(out)
    assert reader.get_field("general.type").contents() == "adapter"
    assert reader.get_field("adapter.type").contents() == "lora"
    assert reader.get_field("adapter.lora.alpha").contents() == 8.0
    tensors = {tensor.name: np.array(tensor.data) for tensor in reader.tensors}
    assert len(tensors) == 2 * 7 * 2  # 2 layers x 7 projections x (A, B)
    assert tensors["blk.0.attn_q.weight.lora_a"].shape == (4, 32) and tensors["blk.0.ffn_down.weight.lora_b"].shape == (32, 4)

    from safetensors.torch import load_file

    peft = {name: value.numpy() for name, value in load_file(adapters["ops"] / gguf_lora.ADAPTER_WEIGHTS).items()}
    prefix = "base_model.model.model.layers.1."
    np.testing.assert_array_equal(tensors["blk.1.attn_v.weight.lora_b"], peft[prefix + "self_attn.v_proj.lora_B.weight"])
    np.testing.assert_array_equal(tensors["blk.1.attn_k.weight.lora_b"],
                                  gguf_convert.permute_rope(peft[prefix + "self_attn.k_proj.lora_B.weight"], 2))
    np.testing.assert_array_equal(tensors["blk.1.attn_k.weight.lora_a"], peft[prefix + "self_attn.k_proj.lora_A.weight"])


@pytest.mark.parametrize(("options", "named"), [
    ({"use_dora": True}, "DoRA"),
    ({"use_rslora": True}, "rsLoRA"),
    ({"rank_pattern": {"q_proj": 2}}, "per-module ranks"),
    ({"modules_to_save": ["lm_head"]}, "whole modules saved beside the adapter"),
    ({"bias": "lora_only"}, "trained biases"),
])
def test_what_llama_cpp_cannot_apply_is_refused_naming_it(tiny_model_dir, base_gguf, tmp_path, options, named):
    adapter = save_adapter(tiny_model_dir, tmp_path / "adapter", seed=3, targets=["q_proj", "v_proj"], **options)

    with pytest.raises(UserError, match=named) as refused:
        gguf_lora.write_lora_gguf(adapter, base_gguf, tmp_path / "out.gguf")
    assert refused.value.where == str(adapter) and "--engine transformers" in refused.value.render()
    assert not (tmp_path / "out.gguf").exists()
    assert not gguf_lora.appliable(adapter)


def test_an_embedding_lora_or_a_missing_file_is_refused_before_writing(tiny_model_dir, base_gguf, tmp_path):
    embedding = save_adapter(tiny_model_dir, tmp_path / "embedding", seed=4, targets=["embed_tokens", "q_proj"])
    with pytest.raises(UserError, match="not a LoRA A or B matrix"):
        gguf_lora.write_lora_gguf(embedding, base_gguf, tmp_path / "out.gguf")
    assert not gguf_lora.appliable(embedding)
    with pytest.raises(UserError, match="no adapter_config.json"):
        gguf_lora.write_lora_gguf(tmp_path, base_gguf, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()
    assert not gguf_lora.appliable(tmp_path)
