"""load_causal_lm: local dirs, PEFT adapters onto their base, the bundled default, bad refs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.models import bundled, hub
from kubetrainer.models.loader import load_causal_lm, resolve


def test_local_dir_loads_model_and_tokenizer(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = load_causal_lm(tiny_model_dir, tmp_path)
    assert not model.training
    assert model.config.num_hidden_layers == 2
    assert model.dtype == torch.float32
    ids = tokenizer("the pod crash loop", return_tensors="pt").input_ids
    assert ids.shape[1] == 4
    assert tokenizer.pad_token is not None
    assert model(ids).logits.shape == (1, 4, 64)


def test_dtype_is_applied_and_checked(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, _ = load_causal_lm(str(tiny_model_dir), tmp_path, dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    with pytest.raises(UserError, match="unknown dtype"):
        load_causal_lm(tiny_model_dir, tmp_path, dtype="float8")


def test_peft_adapter_is_loaded_onto_its_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():  # LoRA B starts at zero; make the adapter change the output
        for name, param in tuned.named_parameters():
            if "lora_B" in name:
                param.fill_(0.05)
    tuned.save_pretrained(tmp_path / "adapter")
    tuned.eval()
    ids = torch.tensor([[3, 4, 5, 6]])
    expected = tuned(ids).logits

    model, tokenizer = load_causal_lm(tmp_path / "adapter", tmp_path / "models")
    assert isinstance(model, PeftModel)
    assert tokenizer.eos_token == "</s>"  # the base's tokenizer: the adapter has none
    torch.testing.assert_close(model(ids).logits, expected)
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert not torch.allclose(plain(ids).logits, expected)


def test_adapter_with_a_missing_base_names_it(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/nowhere/base"}))
    with pytest.raises(UserError) as caught:
        load_causal_lm(adapter, tmp_path)
    assert "/nowhere/base" in caught.value.render()


def test_unreadable_adapter_config(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{not json")
    with pytest.raises(UserError, match="unreadable adapter config"):
        load_causal_lm(adapter, tmp_path)


@pytest.mark.parametrize("ref", ["./no/such/dir", "/no/such/dir", "not a model id!"])
def test_unknown_refs_are_user_errors(ref: str, tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        resolve(ref, tmp_path)
    assert ref in caught.value.render()


def test_directory_without_a_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a model directory"):
        load_causal_lm(tmp_path / "empty", tmp_path)


def test_damaged_weights_are_a_user_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in tiny_model_dir.iterdir():
        (broken / item.name).write_bytes(item.read_bytes())
    (broken / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(UserError, match="cannot load the model"):
        load_causal_lm(broken, tmp_path)


def test_catalog_name_resolves_to_its_cached_download(tiny_model_dir: Path, tmp_path: Path) -> None:
    target = hub.local_dir(tmp_path, "Qwen/Qwen2.5-0.5B-Instruct")
    target.mkdir(parents=True)
    for item in tiny_model_dir.iterdir():
        (target / item.name).write_bytes(item.read_bytes())
    (target / hub.COMPLETE_MARKER).write_text("{}")
    assert resolve("qwen2.5-0.5b", tmp_path) == target
    assert resolve("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == target


def test_uncached_hub_id_offline_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(Unavailable, match="offline"):
        resolve("some-org/some-model", tmp_path)


def test_bundled_default_is_converted_once_and_generates(converted_models_dir: Path) -> None:
    path = bundled.default_llm_dir(converted_models_dir)
    weights = path / "model.safetensors"
    stamp = os.stat(weights).st_mtime_ns
    assert resolve(None, converted_models_dir) == path
    assert resolve(bundled.DEFAULT_LLM_ID, converted_models_dir) == path  # offline: the bundled copy
    assert os.stat(weights).st_mtime_ns == stamp  # no second conversion

    model, tokenizer = load_causal_lm(None, converted_models_dir)
    messages = [{"role": "user", "content": "What is Kubernetes?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    answer = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert answer.strip()


GGUF_TO_HF = {  # tensors transformers copies without permuting them
    "token_embd.weight": "model.embed_tokens.weight",
    "blk.0.ffn_down.weight": "model.layers.0.mlp.down_proj.weight",
    "blk.29.ffn_gate.weight": "model.layers.29.mlp.gate_proj.weight",
    "output_norm.weight": "model.norm.weight",
}


def test_converted_weights_are_the_dequantised_gguf(converted_models_dir: Path) -> None:
    import gguf
    from safetensors import safe_open

    reader = gguf.GGUFReader(bundled.smollm2_gguf_path())
    weights = safe_open(str(bundled.default_llm_dir(converted_models_dir) / "model.safetensors"), "pt")
    checked = 0
    for tensor in reader.tensors:
        if tensor.name in GGUF_TO_HF:
            expected = torch.from_numpy(gguf.quants.dequantize(tensor.data, tensor.tensor_type).copy())
            torch.testing.assert_close(weights.get_tensor(GGUF_TO_HF[tensor.name]), expected, rtol=0, atol=0)
            checked += 1
    assert checked == len(GGUF_TO_HF)


def test_only_a_finished_conversion_of_the_same_gguf_is_reused(converted_models_dir: Path, tmp_path: Path) -> None:
    gguf = bundled.smollm2_gguf_path()
    converted = bundled.default_llm_dir(converted_models_dir)
    assert bundled.is_current(converted, gguf)
    copy = tmp_path / "copy"
    copy.mkdir()
    assert not bundled.is_current(copy, gguf)  # no marker: an interrupted or foreign directory
    recorded = json.loads((converted / "kubetrainer-source.json").read_text())
    (copy / "kubetrainer-source.json").write_text(json.dumps({**recorded, "size": recorded["size"] + 1}))
    assert not bundled.is_current(copy, gguf)  # the package shipped a different file
    (copy / "kubetrainer-source.json").write_text("{damaged")
    assert not bundled.is_current(copy, gguf)
