"""Padding-free sequence packing without cross-contamination.

A micro-batch holds samples up to a token budget, laid end to end in rows of at most
`row_tokens` (first fit), with position ids restarting at 0 for every sample and no
attention mask. Transformers reads that
shape as packed sequences (`find_packed_sequence_indices`, only with `use_cache=False`,
so the engine always passes it): SDPA/eager build a
block-diagonal causal mask and flash-attention uses its varlen kernel, so a token
never attends across a sample boundary. The first token of every sample gets no
label, so the previous sample's last token is never trained to predict it.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from kubetrainer.train.tokenize import IGNORE, TokenizedExample


@dataclass(frozen=True)
class PackedBatch:
    """One micro-batch: rows of example indices (each row packed up to the row length) and its target count."""

    rows: tuple[tuple[int, ...], ...]
    target_tokens: int

    @property
    def example_indices(self) -> tuple[int, ...]:
        return tuple(index for row in self.rows for index in row)


def plan_batches(
    examples: list[TokenizedExample], *, batch_tokens: int, row_tokens: int, seed: int, epoch: int
) -> list[PackedBatch]:
    """Micro-batches of one epoch: a seeded shuffle, greedy filling up to `batch_tokens`, first-fit into rows.

    Rows keep attention cost per row bounded (SDPA on CPU materialises a row's T x T mask)
    while packing leaves almost no padding. The plan depends on (seed, epoch) alone, so a
    resumed run replays the same order.
    """
    order = list(range(len(examples)))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    batches: list[PackedBatch] = []
    current: list[int] = []
    used = 0
    for index in order:
        length = len(examples[index].input_ids)
        if current and used + length > batch_tokens:
            batches.append(_batch(examples, current, row_tokens))
            current, used = [], 0
        current.append(index)
        used += length
    if current:
        batches.append(_batch(examples, current, row_tokens))
    return batches


def _batch(examples: list[TokenizedExample], indices: list[int], row_tokens: int) -> PackedBatch:
    rows: list[list[int]] = []
    fill: list[int] = []
    for index in indices:
        length = len(examples[index].input_ids)
        slot = next((r for r, used in enumerate(fill) if used + length <= row_tokens), None)
        if slot is None:
            rows.append([index])
            fill.append(length)
        else:
            rows[slot].append(index)
            fill[slot] += length
    targets = sum(label != IGNORE for index in indices for label in _sample_labels(examples[index]))
    return PackedBatch(rows=tuple(tuple(row) for row in rows), target_tokens=targets)


def _sample_labels(example: TokenizedExample) -> list[int]:
    """Labels as the loss sees them: the first token is never a target."""
    return [IGNORE, *example.labels[1:]]


def collate(examples: list[TokenizedExample], batch: PackedBatch, pad_id: int = 0) -> dict[str, torch.Tensor]:
    """input_ids, position_ids and labels shaped (rows, longest row).

    A row's tail padding gets its own positions from 0, so it reads as one more packed
    sample that nothing attends to, and IGNORE labels.
    """
    rows = []
    for row in batch.rows:
        input_ids: list[int] = []
        position_ids: list[int] = []
        labels: list[int] = []
        for index in row:
            example = examples[index]
            input_ids += example.input_ids
            position_ids += range(len(example.input_ids))
            labels += _sample_labels(example)
        rows.append((input_ids, position_ids, labels))
    width = max(len(ids) for ids, _, _ in rows)
    return {
        "input_ids": torch.tensor([ids + [pad_id] * (width - len(ids)) for ids, _, _ in rows]),
        "position_ids": torch.tensor([pos + list(range(width - len(pos))) for _, pos, _ in rows]),
        "labels": torch.tensor([lab + [IGNORE] * (width - len(lab)) for _, _, lab in rows]),
    }


@contextlib.contextmanager
def head_on_targets(model: torch.nn.Module, labels: torch.Tensor) -> Iterator[torch.Tensor]:
    """Inside the block, the model's output head runs only where the next token is a target.

    The head is the largest single matmul of a small model and its fp32 logits (tokens x
    vocabulary) the largest activation; with response-only labels most positions are prompt
    and never scored, so a forward pre-hook gathers the target positions' hidden states
    before the head. The model's `.logits` are then (targets, vocab), in label order; the
    block yields the matching target ids. `model` may be wrapped by DDP (`.module`).
    """
    scored = labels[:, 1:] != IGNORE
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = scored
    head = getattr(model, "module", model).get_output_embeddings()
    handle = head.register_forward_pre_hook(lambda module, args: (args[0][keep], *args[1:]))
    try:
        yield labels[:, 1:][scored]
    finally:
        handle.remove()


def token_loss_sum(target_logits: torch.Tensor, target_ids: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of the target tokens; the caller divides by the step's target count.

    Summing here and dividing by the whole optimizer step's count (across accumulation and
    ranks) weighs every token equally, so one process and N processes compute the same loss.
    """
    return torch.nn.functional.cross_entropy(target_logits.float(), target_ids, reduction="sum")
