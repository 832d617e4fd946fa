"""Adapters added and removed while the server runs (`serve.adapters`), on a tiny random Llama with real LoRA adapters.

The base is a copy of the shared tiny model under its own name, so the adapters these tests load and
remove change no other test module's model. Served through a real uvicorn with the real `openai`
client and httpx: an adapter loaded at run time answers differently from the base, is listed with
its parent, and is gone (404) once removed; only the admin key may change adapters; every bad input
is a 4xx naming its field; a stream in flight finishes while its adapter is removed; an adapter
loaded again with other weights never gets the cached answers of the old ones.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from kubetrainer.generation.engine import UnknownAdapter
from kubetrainer.generation.params import SamplingParams
from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig
from tests.serve.servers import serving

BASE = "tiny-base"
KEY = "ordinary-" + "k3y" * 8
ADMIN = "admin-" + "4dm1n" * 6
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
QUESTION = [{"role": "user", "content": "Why is the pod trainer-0 pending?"}]


def make_lora(base_dir: Path, path: Path, seed: int, hidden_size: int | None = None) -> Path:
    """A LoRA adapter with non-zero random weights for the model in `base_dir` (or one `hidden_size` wide instead)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaForCausalLM

    torch.manual_seed(seed)
    if hidden_size is None:
        model = AutoModelForCausalLM.from_pretrained(base_dir)
    else:
        config = AutoConfig.from_pretrained(base_dir)
        config.hidden_size = hidden_size
        model = LlamaForCausalLM(config)
    lora = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(path)
    if hidden_size is not None:
        config_path = path / "adapter_config.json"
        config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "base_model_name_or_path": "wide-llama"}))
    return path


@pytest.fixture(scope="module")
def base_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("models") / BASE))


@pytest.fixture(scope="module")
def loras(base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {"first": make_lora(base_dir, root / "first", 1), "second": make_lora(base_dir, root / "second", 2),
            "wide": make_lora(base_dir, root / "wide", 3, hidden_size=64)}


@pytest.fixture(scope="module")
def app(base_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    config = ServeConfig(home=tmp_path_factory.mktemp("home"), model=str(base_dir), api_keys=frozenset({KEY}),
                         admin_keys=frozenset({ADMIN}))
    return create_app(config)


@pytest.fixture(scope="module")
def url(app) -> Iterator[str]:
    with serving(app) as base_url:
        yield base_url


@pytest.fixture()
def admin(url: str) -> Iterator[httpx.Client]:
    """An admin's client; whatever a test leaves loaded is removed after it."""
    with httpx.Client(base_url=url, headers=AS_ADMIN, timeout=60) as client:
        yield client
        for entry in client.get("/v1/models").json()["data"]:
            if entry["parent"] == BASE:
                client.delete(f"/v1/adapters/{entry['id']}")


def chat(client: openai.OpenAI, model: str, tokens: int = 8) -> str:
    reply = client.chat.completions.create(model=model, messages=QUESTION, max_tokens=tokens, temperature=0)
    return reply.choices[0].message.content


def test_an_adapter_loaded_at_run_time_is_served_listed_and_removed(url: str, admin: httpx.Client,
                                                                    loras: dict[str, Path]) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    base_answer = chat(client, BASE)
    added = admin.post("/v1/adapters", json={"name": "hot", "path": str(loras["first"])})
    assert added.status_code == 201, added.text
    assert added.json() | {"created": 0} == {"id": "hot", "object": "model", "created": 0, "owned_by": "kubetrainer",
                                             "parent": BASE, "engine": "transformers"}
    listed = {model.id: model for model in client.models.list().data}
    assert listed["hot"].parent == BASE and listed[BASE].parent is None
    assert chat(client, "hot") != base_answer
    assert chat(client, BASE) == base_answer  # the base is untouched by the adapter beside it
    removed = admin.delete("/v1/adapters/hot")
    assert removed.status_code == 200 and removed.json() == {"id": "hot", "object": "model", "deleted": True}
    assert "hot" not in {model.id for model in client.models.list().data}
    with pytest.raises(openai.NotFoundError, match="'hot' does not exist"):
        chat(client, "hot")
    assert chat(client, BASE) == base_answer  # the last adapter gone: the plain base model again


def test_only_the_admin_key_changes_adapters(url: str, app, base_dir: Path, loras: dict[str, Path],
                                             tmp_path: Path) -> None:
    body = {"name": "hot", "path": str(loras["first"])}
    expected = {None: (401, "missing_api_key"), KEY: (403, "admin_key_required"), "not-a-key-" * 3: (401, "invalid_api_key")}
    for key, (status, code) in expected.items():
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        for method, path, payload in (("POST", "/v1/adapters", body), ("DELETE", "/v1/adapters/hot", None)):
            refused = httpx.request(method, f"{url}{path}", json=payload, headers=headers)
            assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), (key, method)
    assert httpx.get(f"{url}/v1/models", headers=AS_ADMIN).status_code == 200  # an admin key opens every route
    without_admin = TestClient(create_app(ServeConfig(home=tmp_path, model=str(base_dir), api_keys=frozenset({KEY}))))
    refused = without_admin.post("/v1/adapters", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert refused.status_code == 403 and "--admin-key-file" in refused.json()["error"]["message"]
    no_keys = TestClient(create_app(ServeConfig(home=tmp_path, model=str(base_dir))), client=("127.0.0.1", 40000))
    assert no_keys.post("/v1/adapters", json=body).status_code == 403  # loopback without keys: still no changes
    assert "hot" not in app.state.serve.lm.adapters


def test_each_bad_request_is_a_4xx_naming_its_field(url: str, admin: httpx.Client, app, loras: dict[str, Path],
                                                    tmp_path: Path) -> None:
    assert admin.post("/v1/adapters", json={"name": "hot", "path": str(loras["first"])}).status_code == 201
    (tmp_path / "not-an-adapter").mkdir()
    cases = [({"name": "a.b", "path": str(loras["second"])}, 400, "name", "not an adapter name"),
             ({"name": "hot", "path": str(loras["second"])}, 409, "name", "'hot' is already served"),
             ({"name": BASE, "path": str(loras["second"])}, 409, "name", f"'{BASE}' is already served"),
             ({"name": "new", "path": str(tmp_path / "missing")}, 400, "path", "is not a directory"),
             ({"name": "new", "path": str(tmp_path / "not-an-adapter")}, 400, "path", "no adapter_config.json"),
             ({"name": "new", "path": str(loras["wide"])}, 400, "path", "made for wide-llama): size mismatch"),
             ({"name": "new", "path": str(loras["second"]), "scale": 2}, 400, "scale", "Extra inputs")]
    for body, status, param, message in cases:
        refused = admin.post("/v1/adapters", json=body)
        error = refused.json()["error"]
        assert (refused.status_code, error["param"]) == (status, param), refused.text
        assert message in error["message"] and "\n" not in error["message"]
    for name, status, message in ((BASE, 400, "is the base model"), ("never-loaded", 404, "no adapter 'never-loaded'")):
        refused = admin.delete(f"/v1/adapters/{name}")
        assert (refused.status_code, refused.json()["error"]["param"]) == (status, "name")
        assert message in refused.json()["error"]["message"]
    lm = app.state.serve.lm
    assert lm.adapters == ("hot",) and list(lm.model.peft_config) == ["hot"]  # nothing left of the refused loads


def test_a_stream_in_flight_finishes_while_its_adapter_is_removed(url: str, admin: httpx.Client,
                                                                   loras: dict[str, Path]) -> None:
    assert admin.post("/v1/adapters", json={"name": "hot", "path": str(loras["first"])}).status_code == 201
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    whole = chat(client, "hot", tokens=160)  # long enough to be generating when the removal arrives
    stream = client.chat.completions.create(model="hot", messages=QUESTION, max_tokens=160, temperature=0,
                                            stream=True)
    chunks = iter(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in [next(chunks), next(chunks)] if chunk.choices)
    removal = {}
    remover = threading.Thread(target=lambda: removal.update(reply=admin.delete("/v1/adapters/hot")))
    remover.start()
    text += "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    remover.join(60)
    assert text == whole and removal["reply"].status_code == 200
    with pytest.raises(openai.NotFoundError):
        chat(client, "hot")


def test_a_request_admitted_before_its_adapter_was_removed_gets_404(app) -> None:
    lm = app.state.serve.lm
    ids = lm.engine.chat_ids(QUESTION)
    with pytest.raises(UnknownAdapter, match="'hot' does not exist"):
        lm.engine.generate(ids, SamplingParams(max_new_tokens=2, temperature=0), adapter="hot")


def test_an_adapter_loaded_again_with_other_weights_never_gets_stale_cached_answers(url: str, admin: httpx.Client,
                                                                                     loras: dict[str, Path]) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)

    def ask() -> tuple[str, str]:
        reply = client.chat.completions.with_raw_response.create(model="hot", messages=QUESTION, max_tokens=7,
                                                                 temperature=0)  # asked by no other test
        return reply.parse().choices[0].message.content, reply.headers["x-kubetrainer-cache"]

    assert admin.post("/v1/adapters", json={"name": "hot", "path": str(loras["first"])}).status_code == 201
    first, cache = ask()
    assert cache == "miss" and ask() == (first, "hit")
    admin.delete("/v1/adapters/hot")
    assert admin.post("/v1/adapters", json={"name": "hot", "path": str(loras["second"])}).status_code == 201
    second, cache = ask()
    assert cache == "miss" and second != first
    admin.delete("/v1/adapters/hot")
    assert admin.post("/v1/adapters", json={"name": "hot", "path": str(loras["first"])}).status_code == 201
    assert ask() == (first, "hit")  # the same weights again: their revision, and their cached answer
