"""GPU check: `kubetrainer serve --engine vllm` against a real vLLM, and the tokens/s it serves.

The tests run the vLLM engine against a stand-in; this runs it against vLLM itself on an NVIDIA GPU:
the bundled SmolLM2 (bf16) with a PEFT LoRA adapter given at start (rank 16, made here; nothing is
downloaded or installed), through our server and the real openai client: a chat, a stream, a completion
for the adapter by name; a second adapter added at run time (`POST /v1/adapters`, admin key, vLLM's
runtime LoRA loading), listed with its parent, served, removed and then refused; then decode speed alone
and with 32 requests at once. Where vllm is not installed it prints one line and exits 0. Writes
$OUT/vllm.json; exits 1 when a request fails. tests/generation/test_check_vllm.py runs the same check
against the stand-in, so the script itself is tested before a GPU is lent.

    OUT=/tmp/out .venv/bin/python bench/gpu/check_vllm.py
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kubetrainer import atomic  # noqa: E402
from kubetrainer.serve.config import ADMIN_KEY_ENV  # noqa: E402
from tests.serve.servers import ServerProcess  # noqa: E402 - the tests' `kubetrainer serve` process on a free port

VLLM_COMMAND = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--dtype", "bfloat16",
                "--gpu-memory-utilization", "0.4"]
TOKENS, CONCURRENT = 256, 32
PROMPT = "Explain, step by step, how Kubernetes schedules a pod that requests one nvidia.com/gpu:"


def make_adapter(base: Path, directory: Path, trained: bool) -> Path:
    """A LoRA adapter on `base`, saved as `kubetrainer train` saves one: B at zero as training starts it, or random
    non-zero weights standing in for a trained one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=16, target_modules=["q_proj", "v_proj"], init_lora_weights=not trained)
    get_peft_model(AutoModelForCausalLM.from_pretrained(base), config).save_pretrained(directory)
    return directory


def decode_speed(client: Any, model: str, concurrent: int, tokens: int = TOKENS) -> dict[str, float]:
    """Completion tokens per second over `concurrent` requests of up to `tokens` tokens sent at once."""
    def one(_: int) -> int:
        reply = client.completions.create(model=model, prompt=PROMPT, max_tokens=tokens, temperature=0)
        return reply.usage.completion_tokens

    started = time.monotonic()
    with ThreadPoolExecutor(concurrent) as pool:
        tokens = sum(pool.map(one, range(concurrent)))
    seconds = time.monotonic() - started
    return {"requests": concurrent, "completion_tokens": tokens, "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1)}


def main() -> int:
    if importlib.util.find_spec("vllm") is None:
        print("check_vllm: vllm is not installed here, so the vLLM engine was not checked (nothing is installed)")
        return 0
    from kubetrainer.models.bundled import ensure_default_llm

    with tempfile.TemporaryDirectory(prefix="check-vllm-") as home:  # the bundled model is converted into it
        model = ensure_default_llm(Path(home) / "models")
        return check(Path(home), Path(os.environ.get("OUT", "bench/results/gpu")), model, VLLM_COMMAND)


def check(home: Path, out: Path, model: Path, command: list[str], tokens: int = TOKENS,
          concurrent: int = CONCURRENT) -> int:
    """The check against the vLLM `command` starts (vLLM's server, or the tests' stand-in); 0 when it passes."""
    adapter = make_adapter(model, home / "ops-lora", trained=False)
    hot = make_adapter(model, home / "hot-lora", trained=True)
    admin_key = secrets.token_hex(16)
    server = ServerProcess(["--model", str(model), "--engine", "vllm", "--adapter", str(adapter), "--max-concurrency",
                            str(concurrent), "--max-queue", "256", "--timeout", "600"], home,
                           env={"KUBETRAINER_VLLM_COMMAND": shlex.join(command), ADMIN_KEY_ENV: admin_key})
    try:
        started = time.monotonic()
        server.wait_ready(timeout_s=900)
        ready_s = time.monotonic() - started
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=admin_key, max_retries=0, timeout=600)
        base = next(entry.id for entry in client.models.list().data if entry.parent is None)
        messages = [{"role": "user", "content": "What does Xid 79 mean?"}]
        chat = client.chat.completions.create(model=base, messages=messages, max_tokens=32, temperature=0)
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
            model=base, messages=messages, max_tokens=32, temperature=0, stream=True) if chunk.choices)
        tuned = client.completions.create(model="ops-lora", prompt=PROMPT, max_tokens=16, temperature=0)
        assert streamed == chat.choices[0].message.content, (streamed, chat.choices[0].message.content)
        report = {"ready_s": round(ready_s, 1), "chat": chat.choices[0].message.content,
                  "adapter_text": tuned.choices[0].text,
                  "runtime_adapter": runtime_adapter(client, server.base_url, admin_key, base, hot),
                  "single": decode_speed(client, base, 1, tokens),
                  "concurrent": decode_speed(client, base, concurrent, tokens)}
    except Exception as error:  # the check's verdict: one line, and the server's log
        print(f"check_vllm: FAILED: {type(error).__name__}: {error}\n{server.log.read_text()[-4000:]}")
        return 1
    finally:
        server.stop()
    atomic.write_json(out / "vllm.json", report)
    print(f"check_vllm: OK: ready in {report['ready_s']}s; an adapter added and removed at run time in "
          f"{report['runtime_adapter']['add_s']}s / {report['runtime_adapter']['remove_s']}s; "
          f"{report['single']['tokens_per_s']} tokens/s alone, {report['concurrent']['tokens_per_s']} tokens/s over "
          f"{concurrent} requests at once ({out / 'vllm.json'})")
    return 0


def runtime_adapter(client: openai.OpenAI, url: str, admin_key: str, base: str, path: Path) -> dict[str, Any]:
    """Adds the adapter at `path` as `hot-lora` while serving, asks it, removes it, and checks it is gone."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=600) as admin:
        started = time.monotonic()
        added = admin.post("/v1/adapters", json={"name": "hot-lora", "path": str(path)})
        add_s = time.monotonic() - started
        assert added.status_code == 201, added.text
        parents = {entry.id: entry.parent for entry in client.models.list().data}
        assert parents.get("hot-lora") == base, parents
        text = client.completions.create(model="hot-lora", prompt=PROMPT, max_tokens=16, temperature=0).choices[0].text
        started = time.monotonic()
        removed = admin.delete("/v1/adapters/hot-lora")
        remove_s = time.monotonic() - started
        assert removed.status_code == 200, removed.text
    try:
        client.completions.create(model="hot-lora", prompt=PROMPT, max_tokens=4)
    except openai.NotFoundError:
        return {"add_s": round(add_s, 2), "remove_s": round(remove_s, 2), "text": text}
    raise AssertionError("hot-lora is still served after DELETE /v1/adapters/hot-lora")


if __name__ == "__main__":
    sys.exit(main())
