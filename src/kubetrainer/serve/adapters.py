"""Adapters added and removed while the server runs, as vLLM's runtime LoRA loading does.

`POST /v1/adapters` {"name", "path"} loads the PEFT LoRA adapter in the server's directory `path`
onto the served base, served as `name` from then on (listed by /v1/models with `parent` the base);
`DELETE /v1/adapters/{name}` stops serving it. A fine-tuning run's new adapter goes live without a
restart, and without dropping the requests in flight: the transformers engine changes adapters only
between generations (`generation.peft_adapters`), llama.cpp converts it to a GGUF LoRA and loads it
between two requests, vLLM loads and unloads them itself, and a request for an adapter removed
meanwhile gets 404.

Both need an admin key (`access.check_admin`). Bad input is a 4xx whose error names the field: a
name that is not a plain id or is already served, a path that is not a PEFT adapter directory or
holds an adapter the base cannot take (its shapes do not fit), removing the base or an adapter
that is not served.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from kubetrainer.errors import UserError
from kubetrainer.generation.engine import Unsupported
from kubetrainer.generation.peft_adapters import AdapterMismatch
from kubetrainer.serve.access import check_admin
from kubetrainer.serve.errors import APIError
from kubetrainer.serve.routes import serve_state

router = APIRouter(prefix="/v1")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # PEFT keeps adapters in module dicts: no dots
ADAPTER_CONFIG = "adapter_config.json"


class AdapterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    path: str


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise APIError(400, f"name: {name!r} is not an adapter name: letters, digits, '-' and '_', at most 64, "
                       "starting with a letter or digit", param="name", code="invalid_value")


def _adapter_config(path: Path) -> dict[str, Any]:
    """The adapter's PEFT config: 400 naming `path` unless it is a directory holding a readable one."""
    if not path.is_dir():
        raise APIError(400, f"path: {path} is not a directory on the server", param="path", code="invalid_value")
    try:
        config = json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise APIError(400, f"path: {path} is not a PEFT adapter directory (no {ADAPTER_CONFIG})", param="path",
                       code="invalid_value") from error
    except (OSError, ValueError) as error:
        raise APIError(400, f"path: {path / ADAPTER_CONFIG} is unreadable: {error}", param="path",
                       code="invalid_value") from error
    if not isinstance(config, dict):
        raise APIError(400, f"path: {path / ADAPTER_CONFIG} is not a JSON object", param="path", code="invalid_value")
    return config


@router.post("/adapters", status_code=201)
async def add_adapter(body: AdapterRequest, request: Request) -> JSONResponse:
    """Loads an adapter onto the served base; answers its model object as /v1/models lists it."""
    state = serve_state(request)
    check_admin(request.headers, state.config.admin_keys, state.config.api_keys)
    _check_name(body.name)
    path = Path(body.path).expanduser().resolve()
    config = _adapter_config(path)
    lm = state.lm
    try:
        await asyncio.to_thread(lm.add_adapter, body.name, path)
    except (AdapterMismatch, Unsupported, UserError) as error:
        made_for = config.get("base_model_name_or_path") or "an unnamed base"
        raise APIError(400, f"path: the adapter does not fit the served base '{lm.model_id}' (it was made for "
                       f"{made_for}): {error}", param="path", code="adapter_mismatch") from error
    return JSONResponse({"id": body.name, "object": "model", "created": lm.created, "owned_by": "kubetrainer",
                         "parent": lm.model_id, "engine": lm.engine_name}, status_code=201)


@router.delete("/adapters/{name}")
async def remove_adapter(name: str, request: Request) -> dict[str, Any]:
    """Stops serving an adapter; answers OpenAI's deleted-model object."""
    state = serve_state(request)
    check_admin(request.headers, state.config.admin_keys, state.config.api_keys)
    await asyncio.to_thread(state.lm.remove_adapter, name)
    return {"id": name, "object": "model", "deleted": True}
