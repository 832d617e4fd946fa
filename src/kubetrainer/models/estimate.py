"""Memory estimator: how many bytes a model needs for inference, LoRA, QLoRA or full fine-tuning.

Pure functions over `ModelSpec` and `Workload`. The formulas, their sources and the
measured accuracy are in docs/memory-estimator.md; in short:

- weights: params x bytes at the dtype; int8/NF4 pack only the Linear matrices, the
  embeddings stay 16-bit; NF4 with double quantisation costs 0.5 + 0.0159 bytes/param
  (QLoRA, Dettmers et al. 2023);
- KV cache: 2 (K and V) x layers x kv_heads x head_dim x tokens x batch x bytes;
- full fine-tuning: 16 bytes/param for fp32 weights + gradients + AdamW moments
  (4 + 4 + 8; ZeRO, Rajbhandari et al. 2020, counts the same 16 as 2 + 2 + 12), plus
  the bf16 weight copies torch autocast keeps for backward (2 bytes/param);
- LoRA/QLoRA: the frozen base plus 16 bytes per adapter parameter (fp32 adapters);
- the peak: backward frees activations while it creates gradients, so it counts the
  larger of (activations + the output head's gradient) and (all gradients + AdamW's
  step temporaries);
- activations: the tensors each layer saves for backward (Korthikanti et al. 2022,
  adapted to RMSNorm, SwiGLU, grouped-query and memory-efficient attention), one
  layer input per layer plus one recomputed layer under gradient checkpointing,
  plus the logits and the loss's fp32 copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.models.catalog import ModelSpec

TASKS = ("inference", "lora", "qlora", "full")
QUANTIZATIONS = ("int8", "int4")
GIB = 2**30
# bitsandbytes NF4: 4-bit codes plus, with double quantisation, an 8-bit absmax per
# block of 64 and an fp32 constant per 256 blocks: 8/64 + 32/(64*256) bits = 0.127 bits.
NF4_BYTES_PER_PARAM = 0.5 + (8 / 64 + 32 / (64 * 256)) / 8
INT8_BYTES_PER_PARAM = 1.0
# What a process costs before any tensor: the CUDA context, cuBLAS workspace and the
# caching allocator's slack on a GPU; the interpreter and torch's libraries on a CPU.
RUNTIME_OVERHEAD = {"gpu": GIB, "cpu": GIB // 2}
DEFAULT_SEQ_LEN = {"inference": 4096, "lora": 2048, "qlora": 2048, "full": 2048}
FP32 = 4


@dataclass(frozen=True)
class Workload:
    """What will run: the task and its shape. param_bytes 2 is bf16/fp16, 4 is fp32."""

    task: str = "inference"
    seq_len: int | None = None  # None: DEFAULT_SEQ_LEN, capped at the model's context
    batch_size: int = 1
    param_bytes: int = 2
    quantization: str | None = None  # inference only: None | "int8" | "int4"
    gradient_checkpointing: bool = True
    lora_rank: int = 16
    device: str = "gpu"  # "gpu" | "cpu": picks the runtime overhead

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise UserError(f"unknown task {self.task!r}", where="--task", expected=" | ".join(TASKS))
        if self.quantization not in (None, *QUANTIZATIONS):
            raise UserError(
                f"unknown quantization {self.quantization!r}", where="--quant", expected="int8 | int4"
            )
        if self.param_bytes not in (2, 4):
            raise UserError(f"param_bytes {self.param_bytes}", where="workload", expected="2 (bf16) or 4 (fp32)")
        if self.batch_size < 1 or (self.seq_len is not None and self.seq_len < 1):
            raise UserError("batch size and sequence length must be positive", where="workload")

    def tokens(self, spec: ModelSpec) -> int:
        """Sequence length used for the estimate: the chosen one, capped at the model's context."""
        wanted = self.seq_len or DEFAULT_SEQ_LEN[self.task]
        return min(wanted, spec.context_length)


@dataclass(frozen=True)
class Estimate:
    """Bytes by component, and the peak they add up to.

    Backward frees activations as it creates gradients, so the two never peak
    together: the peak is the larger of "all activations plus the output head's
    gradient" (backward's first step) and "all gradients plus AdamW's temporaries"
    (the optimizer step). The model state
    (weights, KV cache, gradients, optimizer) shards across devices; activations and
    the runtime overhead do not.
    """

    weights_bytes: int
    kv_cache_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int
    overhead_bytes: int
    trainable_params: int
    seq_len: int
    batch_size: int
    head_gradients_bytes: int = 0  # alive with all activations: backward's first step
    optimizer_step_bytes: int = 0  # AdamW's temporaries, alive with all gradients

    @property
    def total_bytes(self) -> int:
        return self.per_device_bytes(1)

    @property
    def tensor_bytes(self) -> int:
        """Everything but the fixed runtime overhead: what a peak-memory measurement sees."""
        return self.total_bytes - self.overhead_bytes

    def per_device_bytes(self, devices: int) -> int:
        """Peak bytes on each of `devices` when the model state is sharded evenly."""
        resident = math.ceil((self.weights_bytes + self.kv_cache_bytes + self.optimizer_bytes) / devices)
        backward = max(
            self.activations_bytes + math.ceil(self.head_gradients_bytes / devices),
            math.ceil((self.gradients_bytes + self.optimizer_step_bytes) / devices),
        )
        return resident + backward + self.overhead_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "total_bytes": self.total_bytes,
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "gradients_bytes": self.gradients_bytes,
            "optimizer_bytes": self.optimizer_bytes,
            "activations_bytes": self.activations_bytes,
            "overhead_bytes": self.overhead_bytes,
            "head_gradients_bytes": self.head_gradients_bytes,
            "optimizer_step_bytes": self.optimizer_step_bytes,
            "trainable_params": self.trainable_params,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
        }


def estimate(spec: ModelSpec, workload: Workload) -> Estimate:
    """Peak memory of running `workload` on `spec` (see the module docstring)."""
    tokens = workload.tokens(spec)
    if workload.task == "inference":
        return _inference(spec, workload, tokens)
    return _training(spec, workload, tokens)


def weights_bytes(spec: ModelSpec, param_bytes: int, quantization: str | None) -> int:
    """Weights at 16/32-bit, or with the Linear matrices packed to int8/NF4."""
    if quantization is None:
        return spec.params * param_bytes
    per_param = INT8_BYTES_PER_PARAM if quantization == "int8" else NF4_BYTES_PER_PARAM
    return math.ceil(spec.linear_params * per_param) + spec.embedding_params * param_bytes


def kv_cache_bytes(spec: ModelSpec, tokens: int, batch_size: int, element_bytes: int) -> int:
    """K and V for every layer, KV head and position."""
    return 2 * spec.layers * spec.kv_heads * spec.head_dim * tokens * batch_size * element_bytes


def lora_params(spec: ModelSpec, rank: int) -> int:
    """Adapter parameters with every Linear of every layer targeted (QLoRA's recipe).

    Each adapted matrix W (in x out) gains A (in x r) and B (r x out).
    """
    hidden, head_dim = spec.hidden_size, spec.head_dim
    attention = (
        (hidden + spec.attention_heads * head_dim) * 2  # q_proj, o_proj
        + (hidden + spec.kv_heads * head_dim) * 2  # k_proj, v_proj
    )
    mlp_matrices = 3 if spec.mlp == "gated" else 2
    mlp = mlp_matrices * (hidden + spec.intermediate_size) * spec.experts
    return rank * spec.layers * (attention + mlp)


def layer_activation_bytes(spec: ModelSpec, tokens: int, element_bytes: int) -> int:
    """Bytes one decoder layer saves for backward over `tokens` tokens.

    Counted like Korthikanti et al. (2022), Section 4.1, for today's blocks: the
    attention saves its input, Q, K, V, the attention output and the o_proj input
    (memory-efficient attention keeps no s x s scores, and there is no dropout);
    the gated MLP its input, gate and up outputs, the activation and the product;
    each RMSNorm an fp32 copy of its input and its normalised output.
    """
    hidden, head_dim = spec.hidden_size, spec.head_dim
    attention = hidden + 3 * spec.attention_heads * head_dim + 2 * spec.kv_heads * head_dim
    mlp = hidden + (4 if spec.mlp == "gated" else 2) * spec.intermediate_size
    norms = 2 * hidden * (FP32 + element_bytes)
    return tokens * ((attention + mlp) * element_bytes + norms)


def logits_bytes(spec: ModelSpec, tokens: int, element_bytes: int) -> int:
    """The output head's logits and the cross-entropy's fp32 copy, log-softmax and gradient."""
    return tokens * spec.vocab_size * (element_bytes + 3 * FP32)


def _inference(spec: ModelSpec, workload: Workload, tokens: int) -> Estimate:
    element = workload.param_bytes
    batch = workload.batch_size
    # Prefill keeps one layer's working set alive at a time: the MLP's intermediate
    # tensors dominate; generation computes logits for the last position only.
    working = batch * tokens * (4 * spec.hidden_size + 3 * spec.intermediate_size) * element
    working += batch * spec.vocab_size * FP32
    if workload.quantization:
        working += _dequant_workspace(spec)
    return Estimate(
        weights_bytes=weights_bytes(spec, element, workload.quantization),
        kv_cache_bytes=kv_cache_bytes(spec, tokens, batch, element),
        gradients_bytes=0,
        optimizer_bytes=0,
        activations_bytes=working,
        overhead_bytes=RUNTIME_OVERHEAD[workload.device],
        trainable_params=0,
        seq_len=tokens,
        batch_size=batch,
    )


def _training(spec: ModelSpec, workload: Workload, tokens: int) -> Estimate:
    element = workload.param_bytes
    batch_tokens = tokens * workload.batch_size
    layer = layer_activation_bytes(spec, batch_tokens, element)
    if workload.gradient_checkpointing:
        # Only each layer's input survives the forward; backward recomputes one layer at a time.
        activations = spec.layers * batch_tokens * spec.hidden_size * element + layer
    else:
        activations = spec.layers * layer
    activations += logits_bytes(spec, batch_tokens, element)

    head_gradients = 0
    if workload.task == "full":
        trainable = spec.params
        # fp32 master weights, gradients and AdamW moments: 4 + 4 + 8 = 16 bytes/param, the
        # total of ZeRO's mixed-precision accounting; under torch autocast the bf16 copies
        # of the Linear weights are kept for backward as well (2 bytes/param).
        autocast_copies = spec.linear_params * element if element < FP32 else 0
        weights = spec.params * FP32 + autocast_copies
        gradients = spec.params * FP32
        optimizer = spec.params * 2 * FP32
        head_gradients = spec.vocab_size * spec.hidden_size * FP32
        largest_tensor = spec.vocab_size * spec.hidden_size
    else:
        trainable = lora_params(spec, workload.lora_rank)
        quantization = "int4" if workload.task == "qlora" else None
        # PEFT keeps adapters in fp32 (autocast_adapter_dtype) even on a 16-bit base.
        weights = weights_bytes(spec, element, quantization) + trainable * FP32
        gradients = trainable * FP32
        optimizer = trainable * 2 * FP32
        largest_tensor = workload.lora_rank * max(spec.hidden_size, spec.intermediate_size)
        if quantization:
            activations += _dequant_workspace(spec)
    # AdamW's step needs one fp32 temporary per parameter it updates: all at once with the
    # multi-tensor (foreach) kernels torch uses on GPUs, one tensor at a time on CPUs.
    step_temporary = FP32 * (trainable if workload.device == "gpu" else largest_tensor)
    return Estimate(
        weights_bytes=weights,
        kv_cache_bytes=0,
        gradients_bytes=gradients,
        optimizer_bytes=optimizer,
        activations_bytes=activations,
        overhead_bytes=RUNTIME_OVERHEAD[workload.device],
        trainable_params=trainable,
        seq_len=tokens,
        batch_size=workload.batch_size,
        head_gradients_bytes=head_gradients,
        optimizer_step_bytes=step_temporary,
    )


def _dequant_workspace(spec: ModelSpec) -> int:
    """bitsandbytes dequantises one weight to bf16 at a time for each matmul."""
    return 2 * spec.hidden_size * spec.intermediate_size * 2
