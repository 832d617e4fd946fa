"""Shared fixtures: a tiny random Llama with the bundled SmolLM2 tokenizer, a LoRA adapter,
and a real redis-server on a free loopback port."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.servers import free_port


def _smollm2_tokenizer_dir() -> Path:
    """SmolLM2's tokenizer read out of the bundled GGUF once (slow) and kept in the build cache."""
    from transformers import AutoTokenizer

    from kubetrainer import atomic
    from kubetrainer.models.bundled import smollm2_gguf_path

    gguf = smollm2_gguf_path()
    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    path = cache / "test-tokenizers" / gguf.stem
    if not (path / "tokenizer.json").is_file():
        with atomic.directory(path) as staging:
            AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(staging)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with random weights and SmolLM2's real tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(_smollm2_tokenizer_dir())
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.eos_token_id)
    model = LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("models") / "tiny-llama"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter with non-zero weights, so it really changes the model's outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    path = tmp_path_factory.mktemp("runs") / "ops-lora"
    get_peft_model(base, config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (Debian's, installed by scripts/setup.d/40-redis.sh) on loopback."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: run `make setup-test` (scripts/setup.d/40-redis.sh)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
