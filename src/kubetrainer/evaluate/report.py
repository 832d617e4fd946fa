"""The evaluation report: one JSON document, rendered as a Markdown table and a PNG chart.

The JSON is the contract (scripts and the dashboard read it); Markdown and PNG are
views of it for people. All files are written into a staging directory and swapped
in together, so a crash never leaves a report whose table and chart disagree.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.evaluate.run import VariantResult

REPORT_VERSION = 1
QA_COLUMNS = (("exact_match", "Exact match"), ("f1", "Token F1"), ("rouge_l", "ROUGE-L"))


ANSWER_COLUMNS = (("fact_accuracy", "Facts stated", 3), ("cause_with_citation", "Cause + citation", 3),
                  ("citation_precision", "Citation precision", 3), ("degenerate_rate", "Degenerate ↓", 3),
                  ("model_phrasing_accepted", "Model text kept", 3), ("latency_median_s", "Median s ↓", 2))


def build_report(results: list[VariantResult], inputs: dict, settings: dict, retrieval: dict | None = None,
                 answers: list[dict] | None = None) -> dict:
    """The report document: inputs, settings, one row per variant, retrieval and on-call answer scores if measured."""
    return {
        "version": REPORT_VERSION,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "inputs": inputs,
        "settings": settings,
        "variants": [result.to_json() for result in results],
        "retrieval": retrieval,
        "answers": answers,
    }


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _best(rows: list[dict], key, lower_is_better: bool = False) -> float | None:
    values = [key(row) for row in rows if key(row) is not None]
    if not values:
        return None
    return min(values) if lower_is_better else max(values)


def answers_markdown(variants: list[dict], questions: str | None) -> list[str]:
    """The on-call answer scores, one row per variant."""
    lines = ["## On-call answers", "", f"Questions: `{questions}`. Diagnosis: the composed answer (no model); +rag: the model "
             "phrases it and the guard decides; alone: the model without cluster data.", "",
             "| Variant | Questions | " + " | ".join(title for _, title, _ in ANSWER_COLUMNS) + " |",
             "|---|---:|" + "---:|" * len(ANSWER_COLUMNS)]
    for row in variants:
        cells = [_number(row.get(key), digits) for key, _, digits in ANSWER_COLUMNS]
        lines.append(f"| {row['variant']} | {row['questions']} | " + " | ".join(cells) + " |")
    return lines


def render_markdown(report: dict) -> str:
    """A side-by-side table (best value per column in bold), the retrieval metrics and the on-call answer scores."""
    rows = report["variants"]
    if not rows:
        lines = ["# Evaluation report", "", f"Index: `{report['inputs'].get('index') or 'none'}`.", ""]
        return "\n".join([*lines, *answers_markdown(report.get("answers") or [], report["inputs"].get("answers"))]) + "\n"
    columns = [("Perplexity ↓", lambda row: (row["perplexity"] or {}).get("perplexity"), True, 2)]
    columns += [(title, lambda row, name=name: (row["qa"] or {}).get(name), False, 3) for name, title in QA_COLUMNS]
    lines = [
        "# Evaluation report",
        "",
        f"Tuned: `{report['inputs'].get('model')}`; baseline: `{report['inputs'].get('baseline')}`; "
        f"held-out data: `{report['inputs'].get('dataset')}`; index: `{report['inputs'].get('index') or 'none'}`.",
        "",
        "| Variant | Model | " + " | ".join(title for title, *_ in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    bests = [_best(rows, key, lower) for _, key, lower, _ in columns]
    for row in rows:
        cells = []
        for (_, key, _, digits), best in zip(columns, bests):
            value = key(row)
            text = _number(value, digits)
            cells.append(f"**{text}**" if value is not None and value == best and len(rows) > 1 else text)
        lines.append(f"| {row['name']} | `{row['model']}` | " + " | ".join(cells) + " |")
    questions = next((row["qa"]["count"] for row in rows if row["qa"]), 0)
    tokens = next((row["perplexity"]["tokens"] for row in rows if row["perplexity"]), 0)
    lines += ["", f"{questions} questions, {tokens} scored tokens. Perplexity does not depend on retrieval, so +RAG rows leave it out."]
    if report.get("retrieval"):
        lines += ["", "## Retrieval", "", "| Metric | Value |", "|---|---:|"]
        # per-question scores stay in the JSON; the table shows the means
        summary = {name: value for name, value in report["retrieval"].items() if isinstance(value, (int, float))}
        lines += [f"| {name} | {_number(value) if isinstance(value, float) else value} |" for name, value in summary.items()]
    if report.get("answers"):
        lines += ["", *answers_markdown(report["answers"], report["inputs"].get("answers"))]
    return "\n".join(lines) + "\n"


def render_answers_chart(variants: list[dict]) -> bytes:
    """PNG: facts stated and cause-with-citation per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(max(6, 1.4 * len(variants)), 4))
    metrics = (("fact_accuracy", "facts stated"), ("cause_with_citation", "cause + citation"))
    width = 0.8 / len(metrics)
    for index, (key, title) in enumerate(metrics):
        positions = [position + (index - 0.5) * width for position in range(len(variants))]
        bars = axes.bar(positions, [row.get(key) or 0.0 for row in variants], width, label=title)
        axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    axes.set_xticks(range(len(variants)), [row["variant"] for row in variants])
    axes.set_ylim(0, 1.1)
    axes.set_title("On-call answers")
    axes.legend(loc="upper right", fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    return buffer.getvalue()


def render_chart(report: dict) -> bytes:
    """PNG: QA metrics as grouped bars per variant, and perplexity per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["variants"]
    figure, (qa_axes, ppl_axes) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 1.3]})
    width = 0.8 / len(QA_COLUMNS)
    for index, (name, title) in enumerate(QA_COLUMNS):
        values = [(row["qa"] or {}).get(name, 0.0) for row in rows]
        positions = [position + (index - (len(QA_COLUMNS) - 1) / 2) * width for position in range(len(rows))]
        bars = qa_axes.bar(positions, values, width, label=title)
        qa_axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    qa_axes.set_xticks(range(len(rows)), [row["name"] for row in rows])
    qa_axes.set_ylim(0, 1.1)
    qa_axes.set_ylabel("score (higher is better)")
    qa_axes.set_title("Question answering on held-out pairs")
    qa_axes.legend(loc="upper left", fontsize=8, ncols=3)
    ppl_rows = [row for row in rows if row["perplexity"]]
    bars = ppl_axes.bar([row["name"] for row in ppl_rows], [row["perplexity"]["perplexity"] for row in ppl_rows], color="#7a5195")
    ppl_axes.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ppl_axes.set_title("Perplexity (lower is better)")
    ppl_axes.margins(y=0.15)
    for axes in (qa_axes, ppl_axes):
        axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    return buffer.getvalue()


def write_report(out_dir: Path, report: dict, results: list[VariantResult],
                 oncall: dict[str, list[dict]] | None = None) -> dict[str, Path]:
    """report.json, report.md, report.png, answers.jsonl (and oncall.jsonl, oncall.png), each swapped into `out_dir`."""
    answers = [
        json.dumps({"variant": result.name, **answer.to_json()}, ensure_ascii=False)
        for result in results
        for answer in result.answers
    ]
    names = ["report.json", "report.md"]
    with atomic.entries(out_dir) as staging:
        atomic.write_json(staging / "report.json", report)
        atomic.write_text(staging / "report.md", render_markdown(report))
        if results:
            atomic.write_bytes(staging / "report.png", render_chart(report))
            atomic.write_text(staging / "answers.jsonl", "".join(line + "\n" for line in answers))
            names += ["report.png", "answers.jsonl"]
        if oncall:
            rows = [json.dumps({"variant": name, **row}, ensure_ascii=False) for name, items in oncall.items() for row in items]
            atomic.write_text(staging / "oncall.jsonl", "".join(line + "\n" for line in rows))
            atomic.write_bytes(staging / "oncall.png", render_answers_chart(report["answers"]))
            names += ["oncall.jsonl", "oncall.png"]
    return {name: out_dir / name for name in names}
