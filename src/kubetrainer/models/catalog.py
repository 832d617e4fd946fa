"""The model catalog (catalog.json) and the shape of any model: `ModelSpec`.

Catalog entries carry the published config.json values of each Hub repository, so
estimates need no network. A model outside the catalog gets the same spec from its
config.json (`spec_from_hf_config`), read locally or fetched alone from the Hub.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from kubetrainer.errors import UserError

CATALOG_PATH = Path(__file__).with_name("catalog.json")


@dataclass(frozen=True)
class ModelSpec:
    """What the estimator needs to know about a decoder-only transformer."""

    name: str
    hub_id: str
    params: int
    layers: int
    hidden_size: int
    intermediate_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    context_length: int
    family: str = "unknown"
    license: str = "unknown"
    gated: bool = False
    tied_embeddings: bool = False
    mlp: str = "gated"  # "gated": SwiGLU/GeGLU, 3 matrices; "plain": 2 matrices (Falcon)
    experts: int = 1
    experts_per_token: int = 1
    active_params: int | None = None

    @property
    def embedding_params(self) -> int:
        """Input embeddings plus an untied output head: kept in 16-bit under quantisation."""
        return self.vocab_size * self.hidden_size * (1 if self.tied_embeddings else 2)

    @property
    def linear_params(self) -> int:
        """Parameters in the per-layer Linear matrices, the ones 8/4-bit quantisation packs."""
        return max(self.params - self.embedding_params, 0)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.hub_id, **asdict(self)}


def architecture_params(spec: ModelSpec) -> int:
    """Parameter count implied by the shape (matrices only, no norms or biases)."""
    attention = 2 * spec.hidden_size * spec.attention_heads * spec.head_dim
    attention += 2 * spec.hidden_size * spec.kv_heads * spec.head_dim
    mlp_matrices = 3 if spec.mlp == "gated" else 2
    mlp = mlp_matrices * spec.hidden_size * spec.intermediate_size * spec.experts
    return spec.layers * (attention + mlp) + spec.embedding_params


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_PATH) -> tuple[ModelSpec, ...]:
    """Every catalog entry, validated: a bad entry names its index and field."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"unreadable model catalog: {error}", where=path) from error
    known = {field.name for field in fields(ModelSpec)}
    specs = []
    for index, entry in enumerate(document.get("models", [])):
        unknown = set(entry) - known
        if unknown:
            raise UserError(f"unknown fields {sorted(unknown)}", where=f"{path}: models[{index}]")
        try:
            specs.append(ModelSpec(**entry))
        except TypeError as error:
            raise UserError(str(error), where=f"{path}: models[{index}]", expected="every ModelSpec field") from error
    return tuple(specs)


def find(catalog: tuple[ModelSpec, ...], ref: str) -> ModelSpec | None:
    """The entry whose short name or Hub id is `ref` (case-insensitive), or None."""
    wanted = ref.lower()
    for spec in catalog:
        if wanted in (spec.name.lower(), spec.hub_id.lower()):
            return spec
    return None


def spec_from_hf_config(config: dict[str, Any], hub_id: str, *, params: int | None = None) -> ModelSpec:
    """A ModelSpec from a transformers config.json (Llama, Mistral, Qwen, Gemma, Phi, Falcon, Mixtral...).

    The parameter count comes from the shape unless given (e.g. from safetensors metadata).
    """
    config = config.get("text_config", config)  # multimodal wrappers keep the LM here

    def pick(*names: str, default: Any = None) -> Any:
        for name in names:
            if config.get(name) is not None:
                return config[name]
        if default is None:
            raise UserError(
                f"config.json lacks {' / '.join(names)}",
                where=f"{hub_id}: config.json",
                expected="a decoder-only transformer config",
            )
        return default

    hidden = int(pick("hidden_size", "n_embd", "d_model"))
    heads = int(pick("num_attention_heads", "n_head", "num_heads"))
    multi_query = config.get("multi_query") and not config.get("new_decoder_architecture")
    kv_heads = 1 if multi_query else int(pick("num_key_value_heads", "num_kv_heads", default=heads))
    is_falcon = config.get("model_type") == "falcon"
    spec = ModelSpec(
        name=hub_id.split("/")[-1].lower(),
        hub_id=hub_id,
        params=0,
        layers=int(pick("num_hidden_layers", "n_layer", "num_layers")),
        hidden_size=hidden,
        intermediate_size=int(pick("intermediate_size", "ffn_hidden_size", "n_inner", default=4 * hidden)),
        attention_heads=heads,
        kv_heads=kv_heads,
        head_dim=int(config.get("head_dim") or hidden // heads),
        vocab_size=int(pick("vocab_size")),
        context_length=int(pick("max_position_embeddings", "n_positions", "max_seq_len", default=2048)),
        family=str(config.get("model_type", "unknown")),
        tied_embeddings=bool(config.get("tie_word_embeddings", is_falcon)),
        mlp="plain" if is_falcon or config.get("model_type") in ("gpt2", "gpt_neox", "opt") else "gated",
        experts=int(config.get("num_local_experts") or config.get("num_experts") or 1),
        experts_per_token=int(config.get("num_experts_per_tok") or 1),
    )
    total = params or architecture_params(spec)
    return replace(spec, params=total, active_params=_active_params(spec, total) if spec.experts > 1 else None)


def _active_params(spec: ModelSpec, total: int) -> int:
    mlp_matrices = 3 if spec.mlp == "gated" else 2
    idle_experts = spec.experts - spec.experts_per_token
    return total - spec.layers * idle_experts * mlp_matrices * spec.hidden_size * spec.intermediate_size


def spec_from_dir(path: Path) -> ModelSpec:
    """The spec of a local HF model directory, from its config.json."""
    config_path = Path(path) / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"unreadable config.json ({error})", where=config_path) from error
    return spec_from_hf_config(config, str(path))
