"""The model side of a run: load the base, pick the precision, apply LoRA/QLoRA or unfreeze all.

Target modules are chosen per architecture (the attention and MLP projections, which is
where LoRA pays off on every model family we ship in the catalog); an unknown family gets
every linear layer except the output head.
"""

from __future__ import annotations

from pathlib import Path

import torch

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.generation.chat import carry_template
from kubetrainer.train.config import TrainConfig

LLAMA_LIKE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TARGET_MODULES: dict[str, list[str]] = {
    "llama": LLAMA_LIKE,
    "mistral": LLAMA_LIKE,
    "mixtral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": LLAMA_LIKE,
    "qwen3": LLAMA_LIKE,
    "gemma": LLAMA_LIKE,
    "gemma2": LLAMA_LIKE,
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "falcon": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}


def target_modules_for(model: torch.nn.Module) -> list[str]:
    """LoRA targets for this architecture: the known list, else every linear layer but the head."""
    model_type = getattr(model.config, "model_type", "")
    if model_type in TARGET_MODULES:
        return TARGET_MODULES[model_type]
    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    return sorted(names - {"lm_head"})


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The autocast dtype: bf16 where the GPU has it, fp16 on older GPUs, fp32 on CPU."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return torch.float32
    if precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise Unavailable("this GPU has no bf16 support", hint="use --precision fp16")
        return torch.bfloat16
    return torch.float16


def resolve_model_dir(ref: str | None, models_dir: Path) -> Path:
    """The local base-model directory: a path, the bundled default (converted once) or a cached download."""
    from kubetrainer.models.loader import resolve

    return resolve(ref, models_dir)


def _quantization_config():
    if not torch.cuda.is_available():
        raise Unavailable(
            "QLoRA loads the base model in 4-bit NF4 through bitsandbytes, which needs a CUDA GPU; this machine has none",
            hint="use --method lora (same adapters, base kept in full precision)",
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise Unavailable("QLoRA needs bitsandbytes, which is not installed", hint="pip install 'kubetrainer[gpu]'") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16
    )


def load_model_and_tokenizer(config: TrainConfig, models_dir: Path, device: torch.device):
    """(model ready to train, tokenizer, base model directory) for the configured method."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quantization = _quantization_config() if config.method == "qlora" else None
    model_dir = resolve_model_dir(config.model, models_dir)
    if not (model_dir / "config.json").exists():
        raise UserError("the model directory has no config.json", where=model_dir, expected="a Hugging Face model directory")
    # the fallback chat template of a base model travels with the tokenizer into every checkpoint
    tokenizer = carry_template(AutoTokenizer.from_pretrained(model_dir))
    model = AutoModelForCausalLM.from_pretrained(
        model_dir,
        dtype=torch.float32 if quantization is None else torch.bfloat16,
        quantization_config=quantization,
        device_map={"": device} if quantization is not None else None,
    )
    model.config.use_cache = False
    if quantization is None:
        model.to(device)
    if config.grad_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.method == "full":
        return model, tokenizer, model_dir
    return _with_lora(model, config), tokenizer, model_dir


def _with_lora(model, config: TrainConfig):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.grad_checkpointing)
    elif config.grad_checkpointing:
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules or target_modules_for(model),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)
