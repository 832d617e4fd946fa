"""The quickstart's steps: which `kubetrainer` commands, in which order, on which paths.

Pure data: `steps(layout, budget)` says what will run; `runner.py` runs it. Every command
here is one a user can type, and the quickstart prints it next to each step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubetrainer.versions import POINTER

INDEX_NAME = "quickstart"
HELDOUT_INDEX_NAME = "quickstart-heldout"
HELDOUT_SCENARIO = "reserve"  # written by an engineer who never read the diagnosis code; nothing is tuned to it
RUN_ID = "quickstart"
SAMPLE_SEED = 0
# Three incidents of the sample cluster an on-call engineer would ask about first.
QUESTION_IDS = ("oom-1", "config-1", "xid-1")


@dataclass(frozen=True)
class Budget:
    """How much work: the default aims at under 10 minutes on 2 CPU cores; `tiny` is for tests.

    CPU time goes mostly to training (tokens x steps) and to generation in ask and eval
    (questions x variants x new tokens), so those are what the budget bounds. Measured
    2026-12-01 on 2 shared cores (load about 2): 16 steps trained in 907 s and the four-way
    eval took 1,107 s, 40 minutes in all; the steps, evaluations and generated tokens are
    halved or so since.
    """

    cluster_size: str = "20000"  # log lines of routine noise around the incidents
    train_steps: int = 8
    batch_tokens: int = 1024
    eval_limit: int = 6
    questions: int = 3
    max_new_tokens: int = 32
    model_answers: int = 3  # held-out questions each model phrases and answers alone in the four-way eval
    train_evals: int = 2  # evaluations of the held-out loss during training (besides the one before it)

    @classmethod
    def tiny(cls) -> Budget:
        return cls(cluster_size="small", train_steps=3, batch_tokens=512, eval_limit=4, questions=1, max_new_tokens=16,
                   model_answers=1, train_evals=1)


@dataclass(frozen=True)
class Layout:
    """Where the quickstart keeps its inputs and outputs, all under the data home."""

    home: Path

    @property
    def root(self) -> Path:
        return self.home / "quickstart"

    @property
    def sample_cluster(self) -> Path:
        return self.root / "sample-cluster"

    @property
    def questions(self) -> Path:
        return self.sample_cluster / "questions.jsonl"

    @property
    def heldout_cluster(self) -> Path:
        return self.root / "heldout-cluster"

    @property
    def heldout_questions(self) -> Path:
        return self.heldout_cluster / "questions.jsonl"

    @property
    def heldout_index(self) -> Path:
        return self.home / "index" / HELDOUT_INDEX_NAME

    @property
    def records(self) -> Path:
        return self.home / "harvest" / "quickstart.jsonl"

    @property
    def dataset(self) -> Path:
        return self.root / "datasets" / "cluster_texts.json"

    @property
    def run_dir(self) -> Path:
        return self.home / "runs" / RUN_ID

    @property
    def adapter(self) -> Path:
        return self.run_dir / "final"

    @property
    def index_dir(self) -> Path:
        return self.home / "index" / INDEX_NAME

    @property
    def state(self) -> Path:
        return self.root / "state.json"


@dataclass(frozen=True)
class Command:
    """One `kubetrainer` invocation; `done_when` names the output whose presence lets a re-run skip it."""

    argv: tuple[str, ...]
    done_when: Path | None = None
    json_output: bool = True

    def shell(self, home: Path) -> str:
        return " ".join(["kubetrainer", "--home", str(home), *(_quote(arg) for arg in self.argv)])


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    commands: tuple[Command, ...]


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in " ?'\"$") else arg


def steps(layout: Layout, budget: Budget, question_texts: list[str]) -> list[Step]:
    """The seed's workflow as commands, with the answers scored on a held-out scenario."""
    dump = str(layout.sample_cluster)
    return [
        Step("detect", "Detect: this machine and the sample cluster's GPUs", (
            Command(("samples", "cluster", "--out", dump, "--force", "--seed", str(SAMPLE_SEED),
                     "--size", budget.cluster_size), done_when=layout.questions, json_output=False),
            Command(("detect", "--json")),
            Command(("detect", "--from", dump, "--no-local", "--json")),
        )),
        Step("load", "Load: the best model that fits this machine, cached", (
            Command(("load", "--task", "lora", "--dry-run", "--json")),
            Command(("load", "--task", "lora", "--json")),
        )),
        Step("harvest", "Harvest: the sample cluster plus one pass of the Rust agent here", (
            Command(("harvest", "--from", dump, "--local", "--name", "quickstart", "--json"), done_when=layout.records),
        )),
        Step("rag", "RAG: index the records and answer on-call questions with citations", (
            Command(("index", "--source", str(layout.records), "--index", INDEX_NAME, "--json"),
                    done_when=layout.index_dir / POINTER),
            *(Command(("ask", text, "--index", INDEX_NAME, "--json")) for text in question_texts[: budget.questions]),
        )),
        Step("answers", "Answers: scored on a held-out scenario, then on the sample's own questions", (
            Command(("samples", "cluster", "--scenario", HELDOUT_SCENARIO, "--out", str(layout.heldout_cluster),
                     "--force", "--seed", str(SAMPLE_SEED), "--size", "small"),
                    done_when=layout.heldout_questions, json_output=False),
            Command(("index", "--source", str(layout.heldout_cluster), "--index", HELDOUT_INDEX_NAME, "--json"),
                    done_when=layout.heldout_index / POINTER),
            Command(("eval", "--answers", str(layout.heldout_questions), "--index", str(layout.heldout_index),
                     "--out", str(layout.root / "answers-heldout"), "--force", "--json")),
            Command(("eval", "--answers", str(layout.questions), "--index", str(layout.index_dir),
                     "--out", str(layout.root / "answers-sample"), "--force", "--json")),
        )),
        Step("train", "Fine-tune: a cluster-derived dataset, then a short LoRA run", (
            Command(("dataset", "build", "--source", str(layout.records), "--out", str(layout.dataset), "--force",
                     "--json"), done_when=layout.dataset),
            Command(("train", "--dataset", str(layout.dataset), "--method", "lora", "--max-steps", str(budget.train_steps),
                     "--batch-tokens", str(budget.batch_tokens), "--max-seq-len", str(budget.batch_tokens // 2),
                     "--eval-every", str(max(budget.train_steps // budget.train_evals, 1)), "--save-every", str(budget.train_steps),
                     "--run-id", RUN_ID, "--json"),
                    done_when=layout.adapter),
        )),
        Step("eval", "Evaluate: base, base+RAG, tuned and tuned+RAG", (
            Command(("eval", str(layout.run_dir), "--index", str(layout.index_dir), "--retrieval", str(layout.questions),
                     "--limit", str(budget.eval_limit), "--max-new-tokens", str(budget.max_new_tokens), "--json"),
                    done_when=layout.run_dir / "eval" / "report.json"),
            Command(("eval", str(layout.run_dir), "--answers", str(layout.heldout_questions), "--index", str(layout.heldout_index),
                     "--limit", str(budget.model_answers), "--max-new-tokens", str(budget.max_new_tokens),
                     "--out", str(layout.run_dir / "eval-answers"), "--force", "--json"),
                    done_when=layout.run_dir / "eval-answers" / "report.json"),
        )),
    ]
