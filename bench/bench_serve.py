"""`kubetrainer serve` against the simplest server a user would write, with the bundled SmolLM2-135M on this CPU.

- Generation: tokens/s and time to first token of a streamed chat answer through a real
  server process (HTTP, SSE, chat template, stop handling) vs `model.generate` in-process
  on the same prompt ids (TTFT of the baseline: `generate` with one new token).
- Cache: latency of an answer served from the response cache vs generating it.
- Concurrency, concurrent against concurrent: 1, 4 and 16 clients (loopback, sampled so
  nothing is cached) against `kubetrainer serve` and against a plain FastAPI app whose
  endpoint calls `model.generate` (FastAPI runs such a sync endpoint in its thread pool,
  so its requests run concurrently too): completion tokens/s and per-request latency
  percentiles, each configuration run REPEATS times with the two servers interleaved.
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
from kubetrainer.generation.engines import llamacpp_installed
from kubetrainer.generation.llamacpp import cpu_budget
from kubetrainer.models.bundled import ensure_default_llm, smollm2_gguf_path
from kubetrainer.models.loader import load_causal_lm

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUESTION = "My pod is stuck in CrashLoopBackOff after an OOMKilled event. What should I check first?"
NEW_TOKENS = 32
REPEATS = 3
OURS, SIMPLE, LLAMA = "kubetrainer serve (transformers)", "FastAPI + model.generate", "kubetrainer serve --engine llamacpp"
LLAMA_SERVER = "llama-cpp-python server"
LLAMA_THREADS = max(1, cpu_budget() // 2)  # LlamaCppEngine.load's default, given to llama-cpp-python's server too
CLIENTS = (1, 4, 16)
REQUESTS_PER_CLIENT = 1
# The simplest OpenAI-shaped server a user would write around transformers (run with uvicorn, one worker).
SIMPLE_SERVER = """
import os, time, torch
from fastapi import FastAPI
from kubetrainer.models.loader import load_causal_lm

model, tokenizer = load_causal_lm(os.environ["BENCH_MODEL"], os.environ["BENCH_CACHE"])
app = FastAPI()

@app.get("/readyz")
def ready():
    return {"ok": True}

@app.post("/v1/chat/completions")
def chat(body: dict):
    text = tokenizer.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=body.get("max_tokens", 32), do_sample=True,
                             temperature=body.get("temperature", 1.0), pad_token_id=tokenizer.eos_token_id)
    new = out[0, ids["input_ids"].shape[1]:]
    return {"object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant",
                                                 "content": tokenizer.decode(new, skip_special_tokens=True)},
                         "finish_reason": "length"}],
            "usage": {"prompt_tokens": ids["input_ids"].shape[1], "completion_tokens": len(new),
                      "total_tokens": ids["input_ids"].shape[1] + len(new)}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(model_dir: Path | None, home: Path, port: int, engine: str = "transformers") -> subprocess.Popen:
    """`kubetrainer serve` with `engine` (llama.cpp serves the bundled model's own GGUF: no --model)."""
    model = ["--model", str(model_dir)] if model_dir else []
    command = [sys.executable, "-c", "from kubetrainer.cli import run; run()", "--home", str(home), "serve", *model,
               "--engine", engine, "--port", str(port), "--max-concurrency", "4", "--max-queue", "64",
               "--timeout", "600"]
    return _ready(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT), port)


def start_simple_server(model_dir: Path, cache: Path, work: Path, port: int) -> subprocess.Popen:
    (work / "simple_server.py").write_text(SIMPLE_SERVER)
    command = [sys.executable, "-m", "uvicorn", "simple_server:app", "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": str(work), "BENCH_MODEL": str(model_dir), "BENCH_CACHE": str(cache)}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work, env=env)
    return _ready(process, port)


def start_llama_server(port: int) -> subprocess.Popen:
    """llama-cpp-python's own OpenAI server on the same GGUF, context and threads as our llama.cpp engine."""
    threads = str(LLAMA_THREADS)
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf_path()), "--n_ctx", "0",
               "--n_threads", threads, "--n_threads_batch", threads, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return _ready(process, port, "/v1/models")


def _ready(process: subprocess.Popen, port: int, path: str = "/readyz") -> subprocess.Popen:
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
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


def throughput(base_url: str, model: str, clients: int) -> dict[str, Any]:
    """Completion tokens/s, requests/s and each request's latency with `clients` threads, each sending its requests
    in turn."""
    tokens, errors, latencies = [], [], []

    def client_loop() -> None:
        with httpx.Client(base_url=base_url, timeout=600) as client:
            for _ in range(REQUESTS_PER_CLIENT):
                start = time.perf_counter()
                response = client.post("/v1/chat/completions", json=chat_body(model, temperature=0.8))
                if response.status_code != 200:
                    errors.append(response.status_code)
                    continue
                latencies.append(time.perf_counter() - start)
                tokens.append(response.json()["usage"]["completion_tokens"])

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {"clients": clients, "requests": len(tokens), "errors": len(errors), "seconds": elapsed,
            "tokens_per_s": sum(tokens) / elapsed, "requests_per_s": len(tokens) / elapsed, "latencies_s": latencies}


def summarized(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration's repeated runs: median and range of tokens/s, latency percentiles over all requests."""
    rates = [run["tokens_per_s"] for run in runs]
    latencies = sorted(value for run in runs for value in run["latencies_s"])

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] if latencies else float("nan")

    return {"clients": runs[0]["clients"], "runs": len(runs), "requests": sum(run["requests"] for run in runs),
            "errors": sum(run["errors"] for run in runs), "tokens_per_s": statistics.median(rates),
            "tokens_per_s_min": min(rates), "tokens_per_s_max": max(rates),
            "latency_p50_s": percentile(0.50), "latency_p95_s": percentile(0.95), "latency_p99_s": percentile(0.99)}


def plot(series: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for label, rows in series.items():
        axis.errorbar([row["clients"] for row in rows], [row["tokens_per_s"] for row in rows], marker="o", label=label,
                      yerr=[[row["tokens_per_s"] - row["tokens_per_s_min"] for row in rows],
                            [row["tokens_per_s_max"] - row["tokens_per_s"] for row in rows]], capsize=3)
    axis.set_xscale("log", base=2)
    axis.set_xticks(list(CLIENTS), [str(c) for c in CLIENTS])
    axis.set_xlabel("concurrent clients")
    axis.set_ylabel("completion tokens / s")
    axis.set_title("SmolLM2-135M on CPU: concurrent serving")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def concurrency(urls: dict[str, str], model_ids: dict[str, str]) -> dict[str, list[dict]]:
    """Every client count REPEATS times against every server (label -> base URL, model id), interleaved."""
    runs: dict[str, dict[int, list]] = {label: {clients: [] for clients in CLIENTS} for label in urls}
    for _ in range(REPEATS):
        for clients in CLIENTS:
            for label, url in urls.items():
                runs[label][clients].append(throughput(url, model_ids[label], clients))
            print(f"  {clients} clients: " + ", ".join(
                f"{label} {runs[label][clients][-1]['tokens_per_s']:.1f} tok/s" for label in urls), flush=True)
    return {label: [summarized(by_clients[clients]) for clients in CLIENTS] for label, by_clients in runs.items()}


def main() -> int:
    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    model_dir = ensure_default_llm(cache / "models")
    model, tokenizer = load_causal_lm(model_dir, cache / "models")
    baseline = baseline_generate(model, tokenizer)
    del model
    load_before = round(os.getloadavg()[0], 1)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as home:
        port, simple_port, llama_port, llama_server_port = free_port(), free_port(), free_port(), free_port()
        server = start_server(model_dir, Path(home), port)
        simple_server = start_simple_server(model_dir, cache / "models", Path(home), simple_port)
        processes = [server, simple_server]
        urls = {OURS: f"http://127.0.0.1:{port}", SIMPLE: f"http://127.0.0.1:{simple_port}"}
        if llamacpp_installed():
            processes.append(start_server(None, Path(home) / "llama", llama_port, engine="llamacpp"))
            urls[LLAMA] = f"http://127.0.0.1:{llama_port}"
            processes.append(start_llama_server(llama_server_port))
            urls[LLAMA_SERVER] = f"http://127.0.0.1:{llama_server_port}"
        try:
            base_url = urls[OURS]
            with httpx.Client(base_url=base_url, timeout=600) as client:
                model_id = client.get("/v1/models").json()["data"][0]["id"]
                streamed(client, model_id)  # warm-up
                runs = [streamed(client, model_id) for _ in range(REPEATS)]
                ours = {key: statistics.median(run[key] for run in runs) for key in ("ttft_s", "tokens_per_s")}
                cached = cache_latency(client, model_id)
            model_ids = {OURS: model_id, SIMPLE: model_id}
            for label in (LLAMA, LLAMA_SERVER):
                if label in urls:
                    model_ids[label] = httpx.get(f"{urls[label]}/v1/models").json()["data"][0]["id"]
            for label in (SIMPLE, LLAMA, LLAMA_SERVER):
                if label in urls:
                    throughput(urls[label], model_ids[label], 1)  # warm-up
            series = concurrency(urls, model_ids)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(series, RESULTS / "serve.png")
    result = {"date": dt.date.today().isoformat(), "model": model_id, "new_tokens": NEW_TOKENS,
              "load_average": [load_before, round(os.getloadavg()[0], 1)], "baseline": baseline, "ours": ours,
              "cache": cached, "throughput": series[OURS], "simple_server": series[SIMPLE],
              "llamacpp": series.get(LLAMA), "llamacpp_server": series.get(LLAMA_SERVER),
              "llama_threads": LLAMA_THREADS}
    atomic.write_json(RESULTS / "serve.json", result)
    atomic.write_text(RESULTS / "serve.md", render(result))
    print(render(result))
    return 0


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def _rows(ours: list[dict[str, Any]], baseline: list[dict[str, Any]], tag: str = "") -> str:
    """Table rows, one per client count: tokens/s median (range), ratio, latency percentiles, errors."""
    def rate(row: dict[str, Any]) -> str:
        return f"{row['tokens_per_s']:.1f} ({row['tokens_per_s_min']:.1f}-{row['tokens_per_s_max']:.1f})"

    def latency(row: dict[str, Any]) -> str:
        return f"{_ms(row['latency_p50_s'])} / {_ms(row['latency_p95_s'])} / {_ms(row['latency_p99_s'])}"

    return "\n".join(
        f"| {row['clients']}{tag} | {rate(row)} | {rate(other)} | {row['tokens_per_s'] / other['tokens_per_s']:.2f}x | "
        f"{latency(row)} | {latency(other)} | {row['errors']} / {other['errors']} |" for row, other in zip(ours, baseline))


def render(result: dict[str, Any]) -> str:
    base, ours, cached = result["baseline"], result["ours"], result["cache"]
    rows = _rows(result["throughput"], result["simple_server"])
    if result.get("llamacpp"):
        rows += "\n" + _rows(result["llamacpp"], result["simple_server"], ", llama.cpp engine")
    engine_rows = _rows(result["llamacpp"], result["llamacpp_server"]) if result.get("llamacpp_server") else ""
    load_before, load_after = result["load_average"]
    return f"""## Serve: OpenAI-compatible API, concurrent against a plain FastAPI server ({result['date']})

The bundled {result['model']} on this CPU, {result['new_tokens']} new tokens per answer. Single stream: a real
`kubetrainer serve` process on loopback (HTTP + SSE + chat template) against `model.generate` in-process on the same
prompt, medians of {REPEATS} runs. Cached: the same deterministic request answered from the response cache.
Concurrency: the same clients (each sends {REQUESTS_PER_CLIENT} sampled requests in turn, temperature 0.8, so nothing
is cached) against `kubetrainer serve --max-concurrency 4` and against the simplest server a user would write: a
FastAPI app whose sync endpoint applies the chat template and calls `model.generate` (FastAPI runs it in its thread
pool, so requests run concurrently; no queue, no limits, no streaming). Each client count ran {REPEATS} times per
server, the servers interleaved; tokens/s is the median with the range, latency percentiles are over all
{REPEATS} x clients x {REQUESTS_PER_CLIENT} requests of a row (at 1 client, p99 is the slowest of
{REPEATS * REQUESTS_PER_CLIENT}). Rows marked "llama.cpp engine" are `kubetrainer serve --engine llamacpp` on the
bundled model's own Q4_1 GGUF (the other two run the fp32 weights converted from it), against the same FastAPI rows.
Load average {load_before} before, {load_after} after (2 cores, shared).
Plot: `bench/results/serve.png`.

| measure | ours | baseline | ratio |
|---|---|---|---|
| generation tokens/s (streamed) | {ours['tokens_per_s']:.1f} | {base['tokens_per_s']:.1f} (in-process) | {ours['tokens_per_s'] / base['tokens_per_s']:.2f}x |
| time to first token | {ours['ttft_s'] * 1000:.0f} ms | {base['ttft_s'] * 1000:.0f} ms (in-process) | {ours['ttft_s'] / base['ttft_s']:.2f}x |
| cached answer latency | {cached['cached_s'] * 1000:.1f} ms | {cached['generated_s'] * 1000:.0f} ms generated | {cached['generated_s'] / cached['cached_s']:.0f}x faster |

| clients | ours, tok/s | FastAPI + generate, tok/s | ratio | ours, latency p50 / p95 / p99 ms | FastAPI, latency p50 / p95 / p99 ms | errors (ours / FastAPI) |
|---:|---|---|---:|---|---|---|
{rows}
""" + (f"""
Our llama.cpp engine against llama-cpp-python's own OpenAI server (`python -m llama_cpp.server`, the same GGUF, the
model's full context and the same threads, {result.get('llama_threads')}), the same clients, interleaved with the rows above. Target: within 15%.

| clients | ours (llama.cpp engine), tok/s | llama-cpp-python server, tok/s | ratio | ours, latency p50 / p95 / p99 ms | llama-cpp-python server, latency p50 / p95 / p99 ms | errors (ours / theirs) |
|---:|---|---|---:|---|---|---|
{engine_rows}
""" if engine_rows else "")


if __name__ == "__main__":
    sys.exit(main())
