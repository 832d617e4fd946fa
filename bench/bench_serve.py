"""`kubetrainer serve` against plain `model.generate`, with the bundled SmolLM2-135M on this CPU.

- Generation: tokens/s and time to first token of a streamed chat answer through a real
  server process (HTTP, SSE, chat template, stop handling) vs `model.generate` in-process
  on the same prompt ids (TTFT of the baseline: `generate` with one new token).
- Cache: latency of an answer served from the response cache vs generating it.
- Throughput: 1, 4 and 16 concurrent clients (loopback, sampled so nothing is cached)
  vs sequential `model.generate`, in completion tokens per second.
Writes bench/results/serve.{md,json,png}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import torch

from kubetrainer import atomic
from kubetrainer.models.bundled import ensure_default_llm
from kubetrainer.models.loader import load_causal_lm

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUESTION = "My pod is stuck in CrashLoopBackOff after an OOMKilled event. What should I check first?"
NEW_TOKENS = 32
REPEATS = 2
CLIENTS = (1, 4, 16)
REQUESTS_PER_CLIENT = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(model_dir: Path, home: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-c", "from kubetrainer.cli import run; run()", "--home", str(home), "serve",
               "--model", str(model_dir), "--port", str(port), "--max-concurrency", "4", "--max-queue", "64",
               "--timeout", "600"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.25)
    process.kill()
    raise SystemExit("the server did not become ready")


def baseline_generate(model: Any, tokenizer: Any) -> dict[str, float]:
    """Plain `model.generate` on the chat-templated question: TTFT and tokens/s."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}], add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    kwargs = {"do_sample": False, "pad_token_id": tokenizer.eos_token_id, "temperature": None, "top_p": None, "top_k": None}
    ttfts, rates = [], []
    with torch.inference_mode():
        model.generate(**ids, max_new_tokens=4, **kwargs)  # warm-up
        for _ in range(REPEATS):
            start = time.perf_counter()
            model.generate(**ids, max_new_tokens=1, **kwargs)
            ttfts.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = model.generate(**ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **kwargs)
            rates.append((out.shape[1] - ids["input_ids"].shape[1]) / (time.perf_counter() - start))
    return {"ttft_s": statistics.median(ttfts), "tokens_per_s": statistics.median(rates)}


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": QUESTION}], "max_tokens": NEW_TOKENS, **extra}


def streamed(client: httpx.Client, model: str) -> dict[str, float]:
    """One streamed answer: seconds to the first content chunk, and completion tokens per second."""
    start = time.perf_counter()
    first, usage = None, None
    with client.stream("POST", "/v1/chat/completions", json=chat_body(
            model, temperature=0, stream=True, stream_options={"include_usage": True})) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content") and first is None:
                first = time.perf_counter() - start
            usage = chunk.get("usage") or usage
    total = time.perf_counter() - start
    return {"ttft_s": first or total, "tokens_per_s": usage["completion_tokens"] / total}


def cache_latency(client: httpx.Client, model: str) -> dict[str, float]:
    body = chat_body(model, temperature=0, seed=1)
    start = time.perf_counter()
    miss = client.post("/v1/chat/completions", json=body)
    generated = time.perf_counter() - start
    hits = []
    for _ in range(20):
        start = time.perf_counter()
        hit = client.post("/v1/chat/completions", json=body)
        hits.append(time.perf_counter() - start)
        assert hit.headers["x-kubetrainer-cache"] == "hit" and hit.json() == miss.json()
    return {"generated_s": generated, "cached_s": statistics.median(hits)}


def throughput(base_url: str, model: str, clients: int) -> dict[str, float]:
    """Completion tokens/s and requests/s with `clients` threads, each sending its requests in turn."""
    tokens, errors = [], []

    def client_loop() -> None:
        with httpx.Client(base_url=base_url, timeout=600) as client:
            for _ in range(REQUESTS_PER_CLIENT):
                response = client.post("/v1/chat/completions", json=chat_body(model, temperature=0.8))
                if response.status_code != 200:
                    errors.append(response.status_code)
                    continue
                tokens.append(response.json()["usage"]["completion_tokens"])

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {"clients": clients, "requests": len(tokens), "errors": len(errors), "seconds": elapsed,
            "tokens_per_s": sum(tokens) / elapsed, "requests_per_s": len(tokens) / elapsed}


def plot(rows: list[dict[str, float]], baseline_rate: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([row["clients"] for row in rows], [row["tokens_per_s"] for row in rows], marker="o", label="kubetrainer serve")
    axis.axhline(baseline_rate, color="grey", linestyle="--", label="model.generate, sequential")
    axis.set_xscale("log", base=2)
    axis.set_xticks(list(CLIENTS), [str(c) for c in CLIENTS])
    axis.set_xlabel("concurrent clients")
    axis.set_ylabel("completion tokens / s")
    axis.set_title("SmolLM2-135M on CPU: serve throughput")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> int:
    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    model_dir = ensure_default_llm(cache / "models")
    model, tokenizer = load_causal_lm(model_dir, cache / "models")
    baseline = baseline_generate(model, tokenizer)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as home:
        port = free_port()
        server = start_server(model_dir, Path(home), port)
        try:
            base_url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base_url, timeout=600) as client:
                model_id = client.get("/v1/models").json()["data"][0]["id"]
                streamed(client, model_id)  # warm-up
                runs = [streamed(client, model_id) for _ in range(REPEATS)]
                ours = {key: statistics.median(run[key] for run in runs) for key in ("ttft_s", "tokens_per_s")}
                cached = cache_latency(client, model_id)
            scaling = [throughput(base_url, model_id, clients) for clients in CLIENTS]
        finally:
            server.terminate()
            server.wait(timeout=30)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(scaling, baseline["tokens_per_s"], RESULTS / "serve.png")
    result = {"date": dt.date.today().isoformat(), "model": model_id, "new_tokens": NEW_TOKENS,
              "load_average": round(os.getloadavg()[0], 1), "baseline": baseline, "ours": ours, "cache": cached,
              "throughput": scaling}
    atomic.write_json(RESULTS / "serve.json", result)
    atomic.write_text(RESULTS / "serve.md", render(result))
    print(json.dumps(result, indent=2))
    return 0


def render(result: dict[str, Any]) -> str:
    base, ours, cached = result["baseline"], result["ours"], result["cache"]
    rows = "\n".join(
        f"| throughput, {row['clients']} client{'s' if row['clients'] > 1 else ''} | {row['tokens_per_s']:.1f} tok/s "
        f"({row['requests_per_s']:.2f} req/s, {row['errors']} errors) | {base['tokens_per_s']:.1f} tok/s sequential | "
        f"{row['tokens_per_s'] / base['tokens_per_s']:.2f}x |" for row in result["throughput"])
    return f"""## Serve: OpenAI-compatible API vs plain `model.generate` ({result['date']})

The bundled {result['model']} on this CPU, {result['new_tokens']} new tokens per answer, through a real
`kubetrainer serve` process on loopback (HTTP + SSE + chat template), against `model.generate` in-process on the
same prompt. Medians of {REPEATS} runs; the machine is shared (load average {result['load_average']}), so compare
ratios, not absolutes. Cached: the same deterministic request answered from the response cache (in-process LRU).
Throughput clients sample (temperature 0.8), so nothing is cached; `--max-concurrency 4`. Plot: `bench/results/serve.png`.

| measure | ours | baseline | ratio |
|---|---|---|---|
| generation tokens/s (streamed) | {ours['tokens_per_s']:.1f} | {base['tokens_per_s']:.1f} | {ours['tokens_per_s'] / base['tokens_per_s']:.2f}x |
| time to first token | {ours['ttft_s'] * 1000:.0f} ms | {base['ttft_s'] * 1000:.0f} ms | {ours['ttft_s'] / base['ttft_s']:.2f}x |
| cached answer latency | {cached['cached_s'] * 1000:.1f} ms | {cached['generated_s'] * 1000:.0f} ms generated | {cached['generated_s'] / cached['cached_s']:.0f}x faster |
{rows}
"""


if __name__ == "__main__":
    sys.exit(main())
