"""Evaluating a LoRA adapter against its base: the base as "adapter switched off" vs a second copy.

`kubetrainer eval ADAPTER` without --baseline scores the base model by disabling the
adapter on the already loaded weights (ours); the obvious way loads the base model a
second time for the base rows (baseline). Both run the same held-out set (perplexity and
greedy QA) on the bundled SmolLM2-135M-Instruct with a rank-16 LoRA adapter, each in
its own process so peak memory is measured cleanly, and must report the same numbers.
RUNS runs per side, interleaved. Writes bench/results/eval.{md,json}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.config import Settings

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer")) / "bench-eval"
RUNS = 3
QUESTIONS = [
    ("Why does the pod web-1 restart?", "Its container is OOMKilled; raise the memory limit."),
    ("Why is the pod db-0 Pending?", "No node has a free nvidia.com/gpu."),
    ("What does MemoryPressure=True on a node mean?", "The kubelet is evicting pods to free memory."),
    ("What does Xid 79 mean?", "The GPU has fallen off the bus; drain the node."),
]


def make_adapter(base_dir: Path, out: Path) -> Path:
    """A rank-16 LoRA on every attention projection, with random non-zero A and B under a fixed seed.

    PEFT's usual initialisations ("gaussian", True) leave B at zero, so the adapter would change
    nothing and an adapter that is never switched off would go unnoticed; init_lora_weights=False
    keeps both matrices at their random initialisation, which clearly moves the perplexity.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), config).save_pretrained(out)
    return out


def child(mode: str, adapter: str, base: str, dataset: str) -> None:
    """One evaluation in this process; prints times, peak RSS and the numbers as JSON."""
    from kubetrainer.evaluate.answers import AnswerSettings
    from kubetrainer.evaluate.dataset import load_eval_set
    from kubetrainer.evaluate.run import EvalSettings, evaluate_variants
    from kubetrainer.evaluate.stage import EvalRequest, load_candidates

    request = EvalRequest(model=adapter, baseline=None if mode == "ours" else base, device="cpu")
    started = time.perf_counter()
    candidates = load_candidates(request, adapter, None, CACHE / "models")
    loaded = time.perf_counter()
    settings = EvalSettings(window=256, stride=128, answers=AnswerSettings(max_new_tokens=16))
    results = evaluate_variants(candidates, load_eval_set(Path(dataset)), settings)
    done = time.perf_counter()
    print(json.dumps({
        "load_s": round(loaded - started, 2), "eval_s": round(done - loaded, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "variants": [result.to_json() for result in results],
    }))


def run_child(mode: str, adapter: Path, base: Path, dataset: Path) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", mode, str(adapter), str(base), str(dataset)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def check_adapter_matters(variants: list[dict]) -> None:
    """Stop when base and tuned score alike: then "ours equals the baseline" would not show the adapter was switched off."""
    base, tuned = (variant["perplexity"]["perplexity"] for variant in variants)
    if abs(base - tuned) <= 1e-3 * base:
        raise SystemExit(f"the adapter does not change the scores (perplexity {base} base, {tuned} tuned): nothing is checked")


def check_agree(ours: dict, baseline: dict) -> None:
    """Stop unless both report the same perplexities and QA scores: the base rows must be the same model either way."""
    for mine, theirs in zip(ours["variants"], baseline["variants"]):
        reference = theirs["perplexity"]["perplexity"]
        if abs(mine["perplexity"]["perplexity"] - reference) > 1e-3 * reference or mine["qa"] != theirs["qa"]:
            raise SystemExit(f"ours and the baseline disagree on {mine['name']}: {mine} vs {theirs}")


def spread(runs: list[dict], key: str) -> dict[str, float]:
    values = [run[key] for run in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _cell(side: dict[str, float], unit: str) -> str:
    return f"{side['median']:g} {unit} [{side['min']:g}-{side['max']:g}]"


def main() -> int:
    from kubetrainer.models.bundled import ensure_default_llm

    base = ensure_default_llm(Settings(home=CACHE).dir("models"))
    runs: dict[str, list[dict]] = {"ours": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as workdir:
        adapter = make_adapter(base, Path(workdir) / "adapter")
        dataset = Path(workdir) / "held.jsonl"
        dataset.write_text("".join(json.dumps({"instruction": q, "output": a}) + "\n" for q, a in QUESTIONS))
        for _ in range(RUNS):  # the sides interleaved, each run in a fresh process
            for mode in runs:
                runs[mode].append(run_child(mode, adapter, base, dataset))
            check_agree(runs["ours"][-1], runs["baseline"][-1])
    check_adapter_matters(runs["ours"][0]["variants"])
    sides = {mode: {key: spread(side, key) for key in ("peak_rss_mb", "load_s", "eval_s")} for mode, side in runs.items()}
    row = {"questions": len(QUESTIONS), "runs": RUNS, "sides": sides, "variants": runs["ours"][0]["variants"],
           "load_average": round(os.getloadavg()[0], 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic.write_json(RESULTS / "eval.json", {"date": dt.date.today().isoformat(), "run": row, "raw": runs})
    atomic.write_text(RESULTS / "eval.md", render(row))
    print(json.dumps(row, indent=2))
    return 0


def render(row: dict) -> str:
    ours, baseline = row["sides"]["ours"], row["sides"]["baseline"]
    base_row, tuned_row = row["variants"]
    lines = "\n".join(
        f"| {label} | {_cell(ours[key], unit)} | {_cell(baseline[key], unit)} | "
        f"{baseline[key]['median'] / ours[key]['median']:.2f}x |"
        for label, key, unit in (("peak memory (RSS)", "peak_rss_mb", "MB"), ("loading", "load_s", "s"),
                                 ("evaluating (both rows)", "eval_s", "s")))
    return f"""## Eval: the base as "adapter off" vs a second model copy ({dt.date.today().isoformat()})

`kubetrainer eval ADAPTER` on the bundled SmolLM2-135M-Instruct with a rank-16 LoRA adapter (random non-zero weights),
{row['questions']} held-out questions (perplexity with a 256-token window, greedy answers of up to 16 tokens), on CPU.
Ours scores the base rows by disabling the adapter on the loaded weights; the baseline loads the base model again.
Each run is its own process; {row['runs']} runs per side, interleaved; cells are the median [min-max]; every run of
both sides reports the same perplexities and QA scores (checked). Load average {row['load_average']} at the end
(shared machine). Perplexity: base {base_row['perplexity']['perplexity']:.1f}, with the adapter
{tuned_row['perplexity']['perplexity']:.1f}. The ratio is the baseline's median over ours.

| | ours | baseline | ratio |
|---|---|---|---|
{lines}
"""


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:6])
    else:
        sys.exit(main())
