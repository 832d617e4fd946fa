"""A few readable lines per quickstart step, from the JSON its commands printed. Pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GIB = 2**30


def detect(outputs: list[Any]) -> list[str]:
    _, local, cluster = outputs
    (machine,) = local["nodes"]
    gpus = machine.get("gpus")
    gpu_text = f"{gpus['count']}x {gpus['product']} ({gpus['memory_mib'] / 1024:.0f} GiB)" if gpus else "no GPU"
    lines = [f"this machine ({machine['name']}): {machine['cpu']:.0f} CPUs, {machine['memory_bytes'] / GIB:.0f} GiB RAM, {gpu_text}"]
    nodes = cluster.get("nodes") or []
    lines.append(f"sample cluster: {len(nodes)} nodes, {sum(1 for n in nodes if n.get('gpus'))} with GPUs, "
                 f"{sum(1 for n in nodes if not n.get('schedulable'))} not schedulable")
    for product in cluster.get("summary") or []:
        lines.append(f"  {product['product']}: {product['free']} free of {product['allocatable']} on {product['nodes']} node(s)")
    return lines


def load(outputs: list[Any]) -> list[str]:
    plan, acquired = outputs
    model = plan.get("model") or {}
    estimate = plan.get("estimate") or {}
    lines = [f"largest model for LoRA on {plan.get('hardware', {}).get('label', 'this machine')}: {model.get('id')} "
             f"({estimate.get('total_bytes', 0) / GIB:.1f} GiB estimated)"]
    got = acquired.get("acquired") or {}
    if got.get("fallback"):
        lines.append(f"not downloadable here, so the embedded default: {got.get('id')}")
    lines.append(f"cached at {got.get('path')}")
    return lines


def harvest(outputs: list[Any]) -> list[str]:
    (result,) = outputs
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted((result.get("by_kind") or {}).items()))
    return [f"{result['records']} records ({kinds}); {result.get('redactions', 0)} secrets redacted", f"written to {result['path']}"]


def rag(outputs: list[Any], questions: list[dict[str, Any]]) -> list[str]:
    """The index, then each answer as printed by `ask` and whether it states the facts and cites the evidence."""
    from kubetrainer.evaluate.oncall import score

    index, *answers = outputs
    dense = index.get("dense") or {}
    lines = [f"index: {index.get('chunks_total')} chunks and {index.get('findings', 0)} findings from "
             f"{index.get('records_added', 0) + index.get('records_skipped', 0)} records "
             f"({dense.get('backend')} {dense.get('structure')} + BM25)"]
    for question, answer in zip(questions, answers):
        text = str(answer.get("answer", ""))
        citations = answer.get("citations") or []
        scored = score(question, text, answer.get("answered_by", ""), citations, [], 0.0)
        lines.append(f"Q: {question['question']}")
        lines += [f"A: {line}" if number == 0 else f"   {line}" for number, line in enumerate(_answer_lines(text))]
        for number, citation in enumerate(citations[:3], 1):
            source = citation.get("source") or {}
            where = "/".join(part for part in (source.get("namespace"), source.get("name") or source.get("node")) if part)
            lines.append(f"   [{number}] {source.get('kind', '')} {where}")
        missing = [fact for fact, stated in scored.facts.items() if not stated]
        lines.append("   (states the expected cause and cites its evidence)" if scored.cause_cited else
                     f"   (does NOT: missing {missing or 'a citation of the evidence'})")
    return lines


def _answer_lines(text: str) -> list[str]:
    """The answer's direct sentence and its quoted evidence: what an engineer reads first."""
    body = text.split("\n\nWhat it means:", 1)[0]
    return [line for line in body.splitlines() if line.strip()][:5]


def answers(outputs: list[Any]) -> list[str]:
    """Answer scores on the held-out scenario first, then on the sample's own questions (in-sample)."""
    _, index, heldout, sample = outputs
    lines = [f"held-out scenario index: {index.get('chunks_total')} chunks, {index.get('findings', 0)} findings"]
    for title, report in (("held-out scenario", heldout), ("sample's own questions (in-sample)", sample)):
        (row,) = report["answers"]
        lines.append(f"{title}: {row['questions']} questions, facts stated {row['fact_accuracy']:.2f}, "
                     f"cause + citation {row['cause_with_citation']:.2f}, citation precision "
                     f"{row['citation_precision'] or 0:.2f}, degenerate {row['degenerate_rate']:.2f}, "
                     f"median {row['latency_median_s']:.1f} s")
    return lines


def train(outputs: list[Any]) -> list[str]:
    dataset, run = outputs
    lines = [f"dataset: {dataset.get('train', '?')} train / {dataset.get('eval', '?')} eval examples"]
    lines.append(f"LoRA: {run['steps']} steps, train loss {run.get('first_loss') or 0:.3f} -> {run.get('last_loss') or 0:.3f}, "
                 f"eval loss {run.get('first_eval_loss') or 0:.3f} -> {run.get('last_eval_loss') or 0:.3f}, "
                 f"{run.get('tokens_per_second', 0):.0f} tokens/s")
    lines.append(f"run: {run['run_dir']}")
    return lines


def evaluate(outputs: list[Any], report_dir: Path) -> list[str]:
    from kubetrainer.evaluate.report import answers_markdown, render_markdown

    report, answer_report = outputs
    lines = render_markdown(report).strip().splitlines()
    lines += ["", *answers_markdown(answer_report["answers"], answer_report["inputs"].get("answers"))]
    lines.append(f"report: {report_dir / 'report.md'}  chart: {report_dir / 'report.png'}")
    return lines
