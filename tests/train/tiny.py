"""Tiny real models for the training tests: a byte-level BPE tokenizer and a random Llama.

Both are built from code in a second, saved to disk, and loaded by path exactly like a
downloaded model, so the engine runs its real loading path without any model hub.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from kubetrainer.generation.chat import FALLBACK_CHAT_TEMPLATE

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "The pod web-1 restarts because its container is OOMKilled. Raise the memory limit.",
    "The pod db-0 is Pending because no node has a free nvidia.com/gpu.",
    "Node gpu-a has condition MemoryPressure=True: the kubelet is evicting pods.",
    "GPU 3 on node gpu-b reported Xid 79: it fell off the bus and must be drained.",
    "user assistant system Why does it restart? What does this condition mean?",
]


def build_tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    backend.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def qa_records(count: int) -> list[dict]:
    """A small learnable chat dataset: fixed answers to a few repeated questions."""
    pairs = [
        ("Why does web-1 restart?", "It is OOMKilled; raise the memory limit."),
        ("Why is db-0 pending?", "No node has a free nvidia.com/gpu."),
        ("What does MemoryPressure mean?", "The kubelet is evicting pods."),
        ("Which GPU failed?", "GPU 3 on gpu-b, Xid 79."),
    ]
    return [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in (pairs[index % len(pairs)] for index in range(count))
    ]
