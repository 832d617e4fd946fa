"""A PEFT LoRA adapter -> a GGUF LoRA adapter, which llama.cpp applies per request on its base model.

Written as llama.cpp's convert_lora_to_gguf.py writes one: `general.type` "adapter", `adapter.type`
"lora", `adapter.lora.alpha` = PEFT's lora_alpha (llama.cpp scales the update by alpha / rank, as PEFT
does without rsLoRA), and for each adapted weight `<GGUF name>.lora_a` (PEFT's A, rank x in) and
`<GGUF name>.lora_b` (B, out x rank), in f32. Llama's q/k weights are stored permuted into llama.cpp's
rope layout (`gguf_convert.permute_rope`), so the update B @ A is permuted the same way: B's rows.

The base's shape (architecture, layers, heads) is read from the GGUF the adapter will be applied to, so
the adapter is written for exactly what llama.cpp runs; llama.cpp checks every tensor's shape against
it when it loads the adapter. What else PEFT can save (DoRA, rsLoRA, per-module ranks or alphas, whole
modules or trained biases beside the adapter) has no llama.cpp equivalent and is refused with a
UserError naming it, before any file is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from kubetrainer.errors import UserError
from kubetrainer.train.gguf_convert import permute_rope

PEFT_PREFIX = "base_model.model."
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_ARCHES = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2}
_LORA_PARTS = (".lora_A.weight", ".lora_B.weight")


@dataclass(frozen=True)
class BaseShape:
    """What the conversion needs to know of the base model llama.cpp runs."""

    arch: gguf.MODEL_ARCH
    layers: int
    heads: int
    kv_heads: int


def base_shape(base_gguf: Path) -> BaseShape:
    """The architecture and attention heads of a model GGUF (its metadata only)."""
    reader = gguf.GGUFReader(base_gguf)
    arch_name = _field(reader, "general.architecture")
    arch = _ARCHES.get(arch_name)
    if arch is None:
        raise UserError(f"cannot apply LoRA adapters to a {arch_name} GGUF", where=base_gguf,
                        expected="a Llama- or Qwen2-family model")
    heads = int(_field(reader, f"{arch_name}.attention.head_count"))
    kv_heads = _field(reader, f"{arch_name}.attention.head_count_kv")
    return BaseShape(arch, int(_field(reader, f"{arch_name}.block_count")), heads,
                     int(kv_heads) if kv_heads is not None else heads)


def _field(reader: gguf.GGUFReader, key: str) -> Any:
    found = reader.get_field(key)
    return None if found is None else found.contents()


def check_config(config: Mapping[str, Any], where: Path) -> None:
    """Refuse what llama.cpp cannot apply: anything but plain LoRA on linear weights."""
    refusals = [
        (config.get("peft_type", "LORA") != "LORA", f"a {config.get('peft_type')} adapter"),
        (bool(config.get("use_dora")), "DoRA (use_dora)"),
        (bool(config.get("use_rslora")), "rsLoRA (use_rslora: llama.cpp scales by alpha / rank)"),
        (bool(config.get("rank_pattern") or config.get("alpha_pattern")), "per-module ranks or alphas"),
        (bool(config.get("modules_to_save")), f"whole modules saved beside the adapter ({config.get('modules_to_save')})"),
        (config.get("bias", "none") != "none", f"trained biases (bias={config.get('bias')!r})"),
    ]
    for refused, what in refusals:
        if refused:
            raise UserError(f"llama.cpp cannot apply {what}", where=where,
                            expected="a plain LoRA adapter (serve it with --engine transformers)")


def appliable(adapter_dir: Path) -> bool:
    """Whether llama.cpp can apply this adapter, from its config and tensor names (what `--engine auto` asks)."""
    from safetensors import safe_open

    adapter_dir = Path(adapter_dir)
    try:
        check_config(json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8")), adapter_dir)
        with safe_open(str(adapter_dir / ADAPTER_WEIGHTS), framework="np") as tensors:
            return all(name.endswith(_LORA_PARTS) for name in tensors.keys())  # noqa: SIM118
    except (OSError, ValueError, AttributeError, UserError):
        return False


def read_adapter(adapter_dir: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(adapter_config.json, its tensors as f32 arrays by PEFT name), refused unless llama.cpp can apply it."""
    from safetensors import safe_open  # with torch: PEFT may save bf16, which numpy cannot hold

    config_file, weights = adapter_dir / "adapter_config.json", adapter_dir / ADAPTER_WEIGHTS
    for needed in (config_file, weights):
        if not needed.is_file():
            raise UserError(f"no {needed.name} in the adapter directory", where=adapter_dir,
                            expected="a PEFT LoRA adapter saved with safetensors (save_pretrained)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"not JSON: {error.msg}", where=f"{config_file}:{error.lineno}") from error
    check_config(config, adapter_dir)
    with safe_open(str(weights), framework="pt") as tensors:
        state = {name: tensors.get_tensor(name).float().numpy() for name in tensors.keys()}  # noqa: SIM118
    return config, state


def lora_tensors(state: Mapping[str, np.ndarray], base: BaseShape, where: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(GGUF name, array) for each adapted weight's lora_a and lora_b, q/k's B permuted for Llama."""
    names = gguf.get_tensor_name_map(base.arch, base.layers)
    for name in sorted(state):
        module, _, part = name.removeprefix(PEFT_PREFIX).rpartition(".lora_")
        if not name.endswith(_LORA_PARTS):
            raise UserError(f"the adapter holds {name!r}, which is not a LoRA A or B matrix", where=where,
                            expected="only lora_A / lora_B weights (no embeddings or other tensors)")
        target = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if target is None:
            raise UserError(f"no GGUF tensor for the adapted module {module!r}", where=where,
                            expected=f"LoRA on the {base.arch.name.lower()} model's linear layers")
        array = state[name]
        if part == "B.weight" and base.arch == gguf.MODEL_ARCH.LLAMA and module.endswith(("q_proj", "k_proj")):
            array = permute_rope(array, base.heads if module.endswith("q_proj") else base.kv_heads)
        yield f"{target}.lora_{part[0].lower()}", np.ascontiguousarray(array, dtype=np.float32)


def write_lora_gguf(adapter_dir: Path, base_gguf: Path, out: Path) -> Path:
    """Convert the PEFT adapter in `adapter_dir` for the model in `base_gguf`; returns `out`."""
    config, state = read_adapter(Path(adapter_dir))
    base = base_shape(base_gguf)
    tensors = list(lora_tensors(state, base, Path(adapter_dir)))  # every refusal before the file is opened
    writer = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[base.arch])
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config.get("lora_alpha", config.get("r", 8))))
        for name, array in tensors:
            writer.add_tensor(name, array, raw_dtype=gguf.GGMLQuantizationType.F32)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return out
