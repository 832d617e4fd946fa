"""`kubetrainer eval` as one function: resolve the inputs, load the models, run the variants, write the report.

    tuned     MODEL_OR_CHECKPOINT: a run, a checkpoint, `./checkpoints/latest`, an adapter, a model dir or id
    base      --baseline, else the adapter's own base (adapter switched off), else the run's
              base model, else the bundled default
    held-out  --dataset (its eval split when it names one), else the run's held-out examples
    +RAG      with --index: the same questions with retrieved context
    answers   with --answers QUESTIONS.jsonl and --index: on-call answers scored by the facts they
              state and the evidence they cite (`evaluate.oncall`); MODEL may then be left out
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kubetrainer.config import Settings
from kubetrainer.errors import Unavailable, UserError
from kubetrainer.evaluate.dataset import EvalSet, load_eval_set, run_eval_set
from kubetrainer.evaluate.report import build_report, write_report
from kubetrainer.evaluate.run import Candidate, EvalSettings, Tracker, base_of, evaluate_variants, silent


@dataclass(frozen=True)
class EvalRequest:
    model: str | None
    answers: Path | None = None
    baseline: str | None = None
    dataset: Path | None = None
    index: Path | None = None
    retrieval_questions: Path | None = None
    out: Path | None = None
    limit: int | None = None
    device: str | None = None
    settings: EvalSettings = EvalSettings()


def resolve_tuned(ref: str, runs_dir: Path) -> tuple[str | Path, Path | None]:
    """(what to load, the training run it came from or None): local paths go through the trainer's resolver."""
    from kubetrainer.train.paths import LATEST, resolve_checkpoint

    path = Path(ref).expanduser()
    looks_local = ref.startswith(("/", ".", "~")) or path.exists() or path.name == LATEST
    if not looks_local:
        return ref, None  # a catalog or Hub id ("org/name")
    resolved = resolve_checkpoint(path, runs_dir).resolve()
    run_dir = next((parent for parent in resolved.parents if (parent / "config.json").is_file() and (parent / "metrics.jsonl").exists()), None)
    return resolved, run_dir


def _run_base_model(run_dir: Path | None) -> str | None:
    from kubetrainer.train.runs import read_config

    return read_config(run_dir).model if run_dir else None


def load_candidates(request: EvalRequest, tuned_ref: str | Path, run_dir: Path | None, models_dir: Path) -> list[Candidate]:
    from kubetrainer.models.loader import load_causal_lm

    device = request.device or _default_device()
    model, tokenizer = load_causal_lm(tuned_ref, models_dir, device=device)
    tuned = Candidate("tuned", str(tuned_ref), model, tokenizer)
    if request.baseline is None and hasattr(model, "disable_adapter"):
        return [base_of(tuned), tuned]
    base_ref = request.baseline or _run_base_model(run_dir)  # None: the bundled default
    base_model, base_tokenizer = load_causal_lm(base_ref, models_dir, device=device)
    return [Candidate("base", str(base_ref or "bundled default"), base_model, base_tokenizer), tuned]


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def open_retriever(index: Path | None, cache_dir: Path | None = None):
    """The index's retriever, its embedder sharing the data home's embedding cache (`cache_dir`): the chunks it
    retrieves were embedded when indexed and each finding's description is embedded once, not once per question."""
    if index is None:
        return None
    if not index.is_dir():
        raise UserError("no such index directory", where=index, expected="a directory made by `kubetrainer index`")
    try:
        from kubetrainer.rag import Retriever
    except ImportError as error:
        raise Unavailable("the RAG stage is not part of this build, so --index cannot be used") from error
    return Retriever.open(index, cache_dir=cache_dir)


def measure_retrieval(questions: Path | None, retriever) -> dict | None:
    if questions is None:
        return None
    if retriever is None:
        raise UserError("--retrieval needs an index to search", where="--retrieval", expected="--index DIR as well")
    if not questions.is_file():
        raise UserError("no such questions file", where=questions, expected="a JSONL of retrieval questions")
    from kubetrainer.evaluate.retrieval import retrieval_metrics

    return retrieval_metrics(questions, retriever, ks=(1, 5, 10))


def output_dir(request: EvalRequest, run_dir: Path | None, runs_dir: Path) -> Path:
    """--out, else the training run's eval/, else a new `eval-<UTC time>` run's eval/."""
    if request.out is not None:
        return request.out
    if run_dir is not None:
        return run_dir / "eval"
    return runs_dir / f"eval-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}" / "eval"


def held_out(request: EvalRequest, run_dir: Path | None) -> EvalSet:
    if request.dataset is not None:
        return load_eval_set(request.dataset, request.limit)
    if run_dir is None:
        raise UserError("no held-out data", where="--dataset", expected="--dataset PATH (only a training run knows its own held-out split)")
    return run_eval_set(run_dir, request.limit)


def _check_answer_inputs(request: EvalRequest) -> list[dict] | None:
    if request.model is None and request.answers is None:
        raise UserError("nothing to evaluate", where="MODEL", expected="a tuned model, or --answers QUESTIONS.jsonl with --index")
    if request.answers is None:
        return None
    if request.index is None:
        raise UserError("answers are found in an index", where="--answers", expected="--index DIR as well")
    from kubetrainer.evaluate.retrieval import load_questions

    return load_questions(request.answers)


def run_answers(questions: list[dict] | None, retriever, candidates: list[Candidate], request: EvalRequest,
                track: Tracker) -> dict | None:
    if questions is None:
        return None
    from kubetrainer.answer.stage import open_engine
    from kubetrainer.evaluate.oncall import AnswerEvalSettings, evaluate_answers

    options = AnswerEvalSettings(request.settings.answers.max_new_tokens, model_questions=request.limit)
    return evaluate_answers(questions, open_engine(retriever, phrase=False), candidates, options, track)


def run_eval(request: EvalRequest, settings: Settings, track: Tracker = silent) -> tuple[dict, dict[str, Path]]:
    """Evaluate base, base+RAG, tuned and tuned+RAG (and on-call answers); returns the report and the files written."""
    runs_dir = settings.dir("runs")
    questions = _check_answer_inputs(request)
    tuned_ref, run_dir = resolve_tuned(request.model, runs_dir) if request.model else (None, None)
    wants_held_out = request.model is not None and (questions is None or request.dataset is not None)
    eval_set = held_out(request, run_dir) if wants_held_out else None  # inputs are checked before any model is loaded
    retriever = open_retriever(request.index, settings.dir("cache"))
    retrieval = measure_retrieval(request.retrieval_questions, retriever)
    candidates = load_candidates(request, tuned_ref, run_dir, settings.dir("models")) if tuned_ref else []
    results = evaluate_variants(candidates, eval_set, request.settings, retriever, track) if eval_set else []
    oncall = run_answers(questions, retriever, candidates, request, track)
    inputs = {
        "model": str(tuned_ref) if tuned_ref else None,
        "baseline": candidates[0].ref if candidates else None,
        "run": str(run_dir) if run_dir else None,
        "dataset": str(request.dataset) if request.dataset else f"{run_dir} (held-out split)" if run_dir else None,
        "format": eval_set.format if eval_set else None,
        "index": str(request.index) if request.index else None,
        "answers": str(request.answers) if request.answers else None,
    }
    options = {
        "window": request.settings.window,
        "stride": request.settings.stride,
        "max_new_tokens": request.settings.answers.max_new_tokens,
        "top_k": request.settings.answers.top_k,
        "limit": request.limit,
    }
    report = build_report(results, inputs, options, retrieval, oncall["variants"] if oncall else None)
    return report, write_report(output_dir(request, run_dir, runs_dir), report, results, oncall["answers"] if oncall else None)
