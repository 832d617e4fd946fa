"""Logit distillation: a small student learns a bigger teacher's next-token distributions, not only the labels.

With `--teacher` a training run loads the teacher beside the student, frozen, and runs it on the same packed
batches; the loss on each target token is

    (1 - weight) * cross-entropy(student, label) + weight * T^2 * KL(teacher_T || student_T)

where `_T` is the softmax at temperature T (Hinton et al., 2015: the T^2 keeps the soft targets' gradients at
the scale of the hard ones as T changes). Both models score only the target positions (`head_on_targets`), so
the teacher costs one forward pass and no full-vocabulary logits at prompt positions. The KL compares
distributions token by token, so the two must share a vocabulary: the same model family (SmolLM2 360M or
1.7B -> 135M, Qwen2.5 1.5B -> 0.5B); a teacher whose tokenizer differs is refused before training starts.
Logits past the tokenizer's length (vocabulary rows padded for the hardware) are left out of the KL.
Evaluation stays plain cross-entropy, comparable with runs trained without a teacher.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from kubetrainer.errors import UserError
from kubetrainer.train.packing import head_on_targets, token_loss_sum

FAMILIES = "the student's family (SmolLM2 360M or 1.7B for 135M, Qwen2.5 1.5B for 0.5B)"


def kd_loss_sum(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Summed KL(teacher || student) of the rows (target positions) at `temperature`, times temperature squared."""
    student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    teacher = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    return F.kl_div(student, teacher, log_target=True, reduction="sum") * temperature**2


def check_teacher(teacher: str, student: str | None, models_dir: Path) -> Path:
    """The teacher's directory, refused (before either model loads) unless its tokenizer is the student's."""
    from transformers import AutoTokenizer

    from kubetrainer.train.model_setup import resolve_model_dir

    teacher_dir = resolve_model_dir(teacher, models_dir)
    if not (teacher_dir / "config.json").exists():
        raise UserError("the teacher has no config.json", where=teacher_dir, expected="a Hugging Face model directory")
    student_vocab = AutoTokenizer.from_pretrained(resolve_model_dir(student, models_dir)).get_vocab()
    if AutoTokenizer.from_pretrained(teacher_dir).get_vocab() != student_vocab:
        raise UserError("the teacher's tokenizer differs from the student's, so their distributions cannot be "
                        "compared token by token", where="--teacher", expected=f"a teacher of {FAMILIES}")
    return teacher_dir


@dataclass
class Teacher:
    """A frozen teacher and how much its distributions weigh in the loss."""

    model: torch.nn.Module
    temperature: float
    weight: float
    vocab: int  # the shared tokenizer's length

    @classmethod
    def load(cls, teacher_dir: Path, vocab: int, device: torch.device, *, temperature: float, weight: float) -> Teacher:
        """The teacher in `teacher_dir` (checked by `check_teacher`), frozen on `device`."""
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(teacher_dir, dtype=torch.float32).to(device).eval()
        model.requires_grad_(False)
        return cls(model, temperature, weight, vocab)

    def loss_sum(self, student_logits: torch.Tensor, target_ids: torch.Tensor, tensors: dict[str, torch.Tensor],
                 autocast: Callable[[], contextlib.AbstractContextManager]) -> torch.Tensor:
        """The mixed loss of one micro-batch, summed over its target tokens (the caller divides, as for cross-entropy)."""
        with torch.no_grad(), autocast(), head_on_targets(self.model, tensors["labels"]):
            teacher_logits = self.model(input_ids=tensors["input_ids"], position_ids=tensors["position_ids"],
                                        use_cache=False).logits
        soft = kd_loss_sum(student_logits[:, :self.vocab], teacher_logits[:, :self.vocab], self.temperature)
        return (1 - self.weight) * token_loss_sum(student_logits, target_ids) + self.weight * soft
