"""GPU check: `kubetrainer serve --engine vllm` against a real vLLM, and the tokens/s it serves.

The tests run the vLLM engine against a stand-in; this runs it against vLLM itself on an NVIDIA GPU:
the bundled SmolLM2 (bf16) with a fresh PEFT LoRA adapter (rank 16, made here; nothing is downloaded
or installed), through our server and the real openai client: a chat, a stream, a completion for the
adapter by name, then decode speed alone and with 32 requests at once. Where vllm is not installed
it prints one line and exits 0. Writes $OUT/vllm.json; exits 1 when a request fails.

    OUT=/tmp/out .venv/bin/python bench/gpu/check_vllm.py
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kubetrainer import atomic  # noqa: E402
from tests.serve.servers import ServerProcess  # noqa: E402 - the tests' `kubetrainer serve` process on a free port

VLLM_COMMAND = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--dtype", "bfloat16",
                "--gpu-memory-utilization", "0.4"]
TOKENS, CONCURRENT = 256, 32
PROMPT = "Explain, step by step, how Kubernetes schedules a pod that requests one nvidia.com/gpu:"


def make_adapter(home: Path) -> Path:
    """A LoRA adapter on the bundled model, saved as `kubetrainer train` saves one (B starts at zero)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from kubetrainer.models.bundled import ensure_default_llm

    base = ensure_default_llm(home / "models")
    config = LoraConfig(r=16, target_modules=["q_proj", "v_proj"])
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), config)
    model.save_pretrained(home / "ops-lora")
    return home / "ops-lora"


def decode_speed(client: Any, model: str, concurrent: int) -> dict[str, float]:
    """Completion tokens per second over `concurrent` requests of up to TOKENS tokens sent at once."""
    def one(_: int) -> int:
        reply = client.completions.create(model=model, prompt=PROMPT, max_tokens=TOKENS, temperature=0)
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
    with tempfile.TemporaryDirectory(prefix="check-vllm-") as home:  # the bundled model is converted into it
        return check(Path(home), Path(os.environ.get("OUT", "bench/results/gpu")))


def check(home: Path, out: Path) -> int:
    import openai

    adapter = make_adapter(home)
    server = ServerProcess(["--engine", "vllm", "--adapter", str(adapter), "--max-concurrency", str(CONCURRENT),
                            "--max-queue", "256", "--timeout", "600"], home,
                           env={"KUBETRAINER_VLLM_COMMAND": shlex.join(VLLM_COMMAND)})
    try:
        started = time.monotonic()
        server.wait_ready(timeout_s=900)
        ready_s = time.monotonic() - started
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0, timeout=600)
        base = client.models.list().data[0].id
        messages = [{"role": "user", "content": "What does Xid 79 mean?"}]
        chat = client.chat.completions.create(model=base, messages=messages, max_tokens=32, temperature=0)
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
            model=base, messages=messages, max_tokens=32, temperature=0, stream=True) if chunk.choices)
        tuned = client.completions.create(model="ops-lora", prompt=PROMPT, max_tokens=16, temperature=0)
        assert streamed == chat.choices[0].message.content, (streamed, chat.choices[0].message.content)
        report = {"ready_s": round(ready_s, 1), "chat": chat.choices[0].message.content,
                  "adapter_text": tuned.choices[0].text, "single": decode_speed(client, base, 1),
                  "concurrent": decode_speed(client, base, CONCURRENT)}
    except Exception as error:  # the check's verdict: one line, and the server's log
        print(f"check_vllm: FAILED: {type(error).__name__}: {error}\n{server.log.read_text()[-4000:]}")
        return 1
    finally:
        server.stop()
    atomic.write_json(out / "vllm.json", report)
    print(f"check_vllm: OK: ready in {report['ready_s']}s; {report['single']['tokens_per_s']} tokens/s alone, "
          f"{report['concurrent']['tokens_per_s']} tokens/s over {CONCURRENT} requests at once ({out / 'vllm.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
