"""RAG ingest and retrieval: folded chunks + hybrid retrieval vs one chunk per line + exact FAISS.

One run, same machine, same embedding model (the bundled all-MiniLM-L6-v2), same
redacting readers:
- ingest: a generated cluster-info dump with `--lines` log lines (default 1,000,000)
  -> searchable index. Ours runs in full. The baseline (one chunk per log line,
  event or object; dense only; exact FAISS) embeds every line, which is too slow
  for 1M lines on a small CPU, so it runs on the first `--baseline-sample`
  records and is extrapolated linearly (its cost per record is constant: one
  embedding and one FAISS add each). Each side runs in its own process, so peak
  memory (max RSS) is its own; CPU seconds are reported beside wall seconds
  because the machine is shared.
- recall@5 on the sample questions: ours on the full-size index; both ours and
  the baseline on the small sample cluster (3,000 log lines), fully indexed.
- retrieval latency of ours (embed the query, dense + BM25, fuse), p50/p99.
Writes bench/results/rag.md and rag.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_RATIO = 10.0
TARGET_LATENCY_MS = 50.0


def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # CPU s, peak MiB


def _line_chunks(records):
    """The baseline's chunking: every record is its own chunk, text as logged."""
    from kubetrainer.rag.chunk import Chunk

    for record in records:
        yield Chunk(text=record["message"], kind=record["kind"], namespace=record.get("namespace"),
                    name=(record.get("labels") or {}).get("involved_name") or (record.get("object") or {}).get("name") or record.get("pod") or record.get("node"),
                    node=record.get("node"), container=record.get("container"), ts_start=record["ts"], ts_end=record["ts"])


class BaselineIndex:
    """One chunk per record, exact inner-product FAISS, dense retrieval only."""

    def __init__(self, records, embedder) -> None:
        import faiss

        self.chunks = list(_line_chunks(records))
        self.embedder = embedder
        vectors = embedder.embed([chunk.text for chunk in self.chunks])
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def search(self, text: str, top_k: int = 5):
        from kubetrainer.rag.retriever import Hit

        scores, rows = self.index.search(self.embedder.embed_query(text).reshape(1, -1), top_k)
        return [Hit(rank, float(score), self.chunks[row].text, self.chunks[row].source()) for rank, (row, score) in enumerate(zip(rows[0], scores[0]), start=1) if row >= 0]


def worker_ours(dump: Path, work: Path) -> dict:
    """Full ingest of the dump into our index, then recall and latency on it."""
    from kubetrainer.evaluate.retrieval import load_questions, retrieval_metrics
    from kubetrainer.rag import Retriever
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.index import build_index
    from kubetrainer.sources.base import Problems
    from kubetrainer.sources.dump import read_dump

    embedder = Embedder(cache_dir=work / "cache")  # an empty cache: every chunk is embedded
    lines = 0

    def counted(records):
        nonlocal lines
        for record in records:
            lines += record["kind"] == "log"
            yield record

    cpu0, wall0 = _usage()[0], time.perf_counter()
    stats = build_index(work / "index", counted(read_dump(dump, Problems())), embedder, source=str(dump))
    wall, cpu = time.perf_counter() - wall0, _usage()[0] - cpu0
    retriever = Retriever.open(work / "index", embedder=embedder)
    metrics = retrieval_metrics(dump / "questions.jsonl", retriever, ks=(1, 5, 10))
    questions = [q["question"] for q in load_questions(dump / "questions.jsonl")]
    retriever.search(questions[0], top_k=5)  # warm-up: first-call allocations are not a query's cost
    latencies, cpu_ms = [], []
    for question in questions * 4:
        start, cpu_start = time.perf_counter(), time.process_time()
        retriever.search(question, top_k=5)
        latencies.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.process_time() - cpu_start) * 1000)
    latencies.sort()
    return {
        "log_lines": lines, "records": stats.records_added, "chunks": stats.chunks_total, "wall_s": wall, "cpu_s": cpu,
        "peak_mib": _usage()[1], "recall@5": metrics["recall@5"], "mrr": metrics["mrr"],
        "latency_p50_ms": statistics.median(latencies), "latency_p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "latency_cpu_p50_ms": statistics.median(cpu_ms),
        "dense": retriever.manifest["dense"],
    }


def worker_baseline(dump: Path, work: Path, sample: int) -> dict:
    """The baseline's two costs, measured apart: reading + redacting every record (in full),
    and embedding + indexing one chunk per record (on the first `sample` log lines, whose
    per-record cost is then extrapolated; reading is not, so no fixed cost is scaled up)."""
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.sources.base import Problems
    from kubetrainer.sources.dump import read_dump

    embedder = Embedder(cache_dir=work / "cache-baseline")
    embedder.model  # load outside the timed part, as ours also loads it once
    cpu0, wall0 = _usage()[0], time.perf_counter()
    records, kept = 0, []
    for record in read_dump(dump, Problems()):
        records += 1
        if record["kind"] == "log" and len(kept) < sample:
            kept.append(record)
    read_wall, read_cpu = time.perf_counter() - wall0, _usage()[0] - cpu0
    cpu0, wall0 = _usage()[0], time.perf_counter()
    index = BaselineIndex(kept, embedder)
    wall, cpu = time.perf_counter() - wall0, _usage()[0] - cpu0
    return {"records": len(kept), "all_records": records, "read_wall_s": read_wall, "read_cpu_s": read_cpu,
            "chunks": len(index.chunks), "wall_s": wall, "cpu_s": cpu, "peak_mib": _usage()[1]}


def worker_small_recall(dump: Path, work: Path) -> dict:
    """recall@5 of ours and of the baseline on the small sample, both fully indexed."""
    from kubetrainer.evaluate.retrieval import retrieval_metrics
    from kubetrainer.rag import Retriever
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.index import build_index
    from kubetrainer.sources.base import Problems
    from kubetrainer.sources.dump import read_dump

    embedder = Embedder(cache_dir=work / "cache-small")
    build_index(work / "small-index", read_dump(dump, Problems()), embedder, source=str(dump))
    ours = retrieval_metrics(dump / "questions.jsonl", Retriever.open(work / "small-index", embedder=embedder), ks=(1, 5, 10))
    baseline = retrieval_metrics(dump / "questions.jsonl", BaselineIndex(list(read_dump(dump, Problems())), embedder), ks=(1, 5, 10))
    return {"ours_recall@5": ours["recall@5"], "ours_mrr": ours["mrr"], "baseline_recall@5": baseline["recall@5"], "baseline_mrr": baseline["mrr"]}


def _run_worker(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", *args], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {args[0]}: {json.dumps(result)}", flush=True)  # a long run cut short still leaves its numbers
    return result


def _load_avg() -> float:
    import os

    return round(os.getloadavg()[0], 1)


def report(ours: dict, baseline: dict, small: dict) -> dict:
    total_records = ours["records"]
    baseline_wall = baseline["read_wall_s"] + baseline["wall_s"] / baseline["records"] * total_records
    baseline_cpu = baseline["read_cpu_s"] + baseline["cpu_s"] / baseline["records"] * total_records
    ours_rate = ours["log_lines"] / ours["wall_s"]
    baseline_rate = ours["log_lines"] / baseline_wall
    vector_mib = total_records * 384 * 4 / 2**20
    return {
        "date": time.strftime("%Y-%m-%d"), "log_lines": ours["log_lines"], "records": total_records, "load_avg": _load_avg(),
        "ours": ours, "baseline_sample": baseline, "small_sample": small,
        "baseline_extrapolated": {"wall_s": baseline_wall, "cpu_s": baseline_cpu, "lines_per_s": baseline_rate,
                                  "vectors_mib": vector_mib, "chunks": total_records},
        "ingest_ratio_wall": ours_rate / baseline_rate,
        "ingest_ratio_cpu": baseline_cpu / ours["cpu_s"],
        "targets": {"ingest_ratio": TARGET_RATIO, "latency_ms": TARGET_LATENCY_MS},
    }


def write(result: dict) -> None:
    ours, base, small = result["ours"], result["baseline_extrapolated"], result["small_sample"]
    met = result["ingest_ratio_wall"] >= TARGET_RATIO and ours["latency_p99_ms"] < TARGET_LATENCY_MS and small["ours_recall@5"] >= small["baseline_recall@5"]
    text = f"""## RAG: ingest and retrieval (run {result['date']})

A generated cluster-info dump with {result['log_lines']:,} log lines ({result['records']:,} records with objects and events)
indexed by ours (drain3-folded log windows, events per object, hybrid BM25 + dense with RRF, FAISS
{ours['dense']['structure']}) and by the baseline (one chunk per log line, event or object; the same MiniLM;
exact FAISS; dense only). Both read and redact through the same readers. The baseline read and redacted every
record, but embedded only the first {result['baseline_sample']['records']:,} log lines: its embedding cost per record is
**extrapolated linearly** to all {result['records']:,} records (embedding every line on this 2-core machine would take
most of a day). recall@5 compares both fully indexed on the small sample
(3,000 log lines, same 16 questions); ours is also scored on the full-size index. Latency is retrieval only
(query embedding, dense + BM25, fusion). Load average during the run: {result['load_avg']}.
Targets: ingest >= {TARGET_RATIO:.0f}x baseline, recall@5 at least the baseline's, p50/p99 < {TARGET_LATENCY_MS:.0f} ms: **{'met' if met else 'not met'}**.

| measure | ours | baseline | ratio |
|---|---|---|---|
| ingest, log lines/s (wall) | {result['log_lines'] / ours['wall_s']:,.0f} | {base['lines_per_s']:,.1f} (extrapolated) | {result['ingest_ratio_wall']:.1f}x |
| ingest, CPU seconds | {ours['cpu_s']:,.0f} | {base['cpu_s']:,.0f} (extrapolated) | {result['ingest_ratio_cpu']:.1f}x |
| chunks embedded | {ours['chunks']:,} | {base['chunks']:,} | {base['chunks'] / ours['chunks']:.0f}x fewer |
| peak memory (MiB) | {ours['peak_mib']:,.0f} | {result['baseline_sample']['peak_mib']:,.0f} at the sample, + {base['vectors_mib']:,.0f} of vectors at full size | |
| recall@5, small sample | {small['ours_recall@5']:.3f} | {small['baseline_recall@5']:.3f} | |
| MRR, small sample | {small['ours_mrr']:.3f} | {small['baseline_mrr']:.3f} | |
| recall@5 / MRR, full size | {ours['recall@5']:.3f} / {ours['mrr']:.3f} | not measured (not embedded in full) | |
| retrieval latency p50 / p99 (wall) | {ours['latency_p50_ms']:.1f} / {ours['latency_p99_ms']:.1f} ms | | |
| retrieval CPU time per query, p50 | {ours['latency_cpu_p50_ms']:.1f} ms (query embedding on 2 threads) | | |
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rag.md").write_text(text)
    (RESULTS / "rag.json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="log lines in the generated dump")
    parser.add_argument("--baseline-sample", type=int, default=3_000, help="records the baseline really embeds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, dump, work, *rest = args.worker
        job = {"ours": lambda: worker_ours(Path(dump), Path(work)),
               "baseline": lambda: worker_baseline(Path(dump), Path(work), int(rest[0])),
               "small": lambda: worker_small_recall(Path(dump), Path(work))}[kind]
        print(json.dumps(job()))
        return
    from kubetrainer.samples.cluster import generate_cluster

    with tempfile.TemporaryDirectory(prefix="bench-rag-") as tmp:
        work = Path(tmp)
        print(f"generating {args.lines:,} log lines ...", flush=True)
        generate_cluster(work / "dump", seed=args.seed, size=args.lines)
        generate_cluster(work / "small", seed=args.seed, size="small")
        print("ours ...", flush=True)
        ours = _run_worker("ours", str(work / "dump"), str(work / "ours"))
        print(f"baseline on {args.baseline_sample:,} records ...", flush=True)
        baseline = _run_worker("baseline", str(work / "dump"), str(work / "baseline"), str(args.baseline_sample))
        print("recall on the small sample ...", flush=True)
        small = _run_worker("small", str(work / "small"), str(work / "small-work"))
        write(report(ours, baseline, small))


if __name__ == "__main__":
    main()
