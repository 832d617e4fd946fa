"""Padding-free sequence packing without cross-contamination.

A micro-batch is one row: samples laid end to end up to a token budget, with position
ids restarting at 0 for every sample and no attention mask. Transformers reads that
shape as packed sequences (`find_packed_sequence_indices`, only with `use_cache=False`,
so the engine always passes it): SDPA/eager build a
block-diagonal causal mask and flash-attention uses its varlen kernel, so a token
never attends across a sample boundary. The first token of every sample gets no
label, so the previous sample's last token is never trained to predict it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from kubetrainer.train.tokenize import IGNORE, TokenizedExample


@dataclass(frozen=True)
class PackedBatch:
    """One micro-batch: indices of the examples it holds, and its target-token count."""

    example_indices: tuple[int, ...]
    target_tokens: int


def plan_batches(examples: list[TokenizedExample], *, batch_tokens: int, seed: int, epoch: int) -> list[PackedBatch]:
    """Micro-batches of one epoch: a seeded shuffle, then greedy filling up to `batch_tokens`.

    The plan depends on (seed, epoch) alone, so a resumed run replays the same order.
    """
    order = list(range(len(examples)))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    batches: list[PackedBatch] = []
    current: list[int] = []
    used = 0
    for index in order:
        length = len(examples[index].input_ids)
        if current and used + length > batch_tokens:
            batches.append(_batch(examples, current))
            current, used = [], 0
        current.append(index)
        used += length
    if current:
        batches.append(_batch(examples, current))
    return batches


def _batch(examples: list[TokenizedExample], indices: list[int]) -> PackedBatch:
    targets = sum(label != IGNORE for index in indices for label in _sample_labels(examples[index]))
    return PackedBatch(example_indices=tuple(indices), target_tokens=targets)


def _sample_labels(example: TokenizedExample) -> list[int]:
    """Labels as the loss sees them: the first token is never a target."""
    return [IGNORE, *example.labels[1:]]


def collate(examples: list[TokenizedExample], batch: PackedBatch) -> dict[str, torch.Tensor]:
    """The tensors of one packed row: input_ids, position_ids, labels, each shaped (1, tokens)."""
    input_ids: list[int] = []
    position_ids: list[int] = []
    labels: list[int] = []
    for index in batch.example_indices:
        example = examples[index]
        input_ids += example.input_ids
        position_ids += range(len(example.input_ids))
        labels += _sample_labels(example)
    return {
        "input_ids": torch.tensor([input_ids]),
        "position_ids": torch.tensor([position_ids]),
        "labels": torch.tensor([labels]),
    }


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of next-token predictions; the caller divides by the step's target count.

    Summing here and dividing by the whole optimizer step's count (across accumulation and
    ranks) weighs every token equally, so one process and N processes compute the same loss.
    """
    shifted_logits = logits[:, :-1, :].float()
    targets = labels[:, 1:]
    return torch.nn.functional.cross_entropy(
        shifted_logits.reshape(-1, shifted_logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
