"""`kubetrainer query` (ranked chunks) and `kubetrainer ask` (an answer with numbered citations)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE
from kubetrainer.errors import UserError

IndexOption = Annotated[Optional[str], typer.Option("--index", help="Index NAME under <home>/index/, or a DIR path.")]
TopK = Annotated[int, typer.Option("--top-k", "-k", min=1, max=100, help="How many chunks to retrieve.")]
Namespace = Annotated[Optional[list[str]], typer.Option("--namespace", "-n", help="Only these namespaces (repeatable).")]
Node = Annotated[Optional[list[str]], typer.Option("--node", help="Only these nodes (repeatable).")]
CHUNK_KINDS = ("log", "event", "object", "metric", "gpu")  # what kubetrainer.rag.chunk.Chunk.kind holds
Kind = Annotated[Optional[list[str]], typer.Option(
    "--kind", help=f"Only {' | '.join(CHUNK_KINDS)} chunks (repeatable, any case).")]
Since = Annotated[Optional[str], typer.Option("--since", help="Only chunks ending after this RFC 3339 time.")]
Until = Annotated[Optional[str], typer.Option("--until", help="Only chunks starting before this RFC 3339 time.")]


def _filters(namespace, node, kind, since, until) -> dict:
    values = {"namespace": namespace, "node": node, "kind": _chunk_kinds(kind or []), "since": since, "until": until}
    return {key: value for key, value in values.items() if value}


def _chunk_kinds(given: list[str]) -> list[str]:
    """`--kind` as the index spells it: any case, singular or plural ("Events" is "event"); anything else is refused."""
    kinds = []
    for value in given:
        kind = value.strip().lower()
        kind = kind[:-1] if kind.endswith("s") and kind[:-1] in CHUNK_KINDS else kind
        if kind not in CHUNK_KINDS:
            raise UserError(f"{value!r} is not a kind of chunk", where="--kind", expected=" | ".join(CHUNK_KINDS),
                            hint="name a Pod or Node in the question; `kubetrainer diagnose --kind` filters by object")
        kinds.append(kind)
    return kinds


def open_retriever(index: str | None):
    """The index `--index` names (default: <home>/index/default), as `query`, `ask` and `investigate` read it."""
    from kubetrainer.rag import Retriever
    from kubetrainer.rag.index import resolve_index

    settings = STATE.settings
    return Retriever.open(resolve_index(index, settings.dir("index")), cache_dir=settings.dir("cache"))


@app.command()
def query(
    text: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    top_k: TopK = 5,
    index: IndexOption = None,
    namespace: Namespace = None,
    node: Node = None,
    kind: Kind = None,
    since: Since = None,
    until: Until = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {query, results} JSON.")] = False,
) -> None:
    """Search the index: hybrid dense + BM25 retrieval over cluster chunks."""
    filters = _filters(namespace, node, kind, since, until)  # before the index opens: a bad flag fails at once
    hits = open_retriever(index).search(text, top_k=top_k, filters=filters)
    if as_json:
        render.print_json({"query": text, "results": [hit.to_json() for hit in hits]})
        return
    from kubetrainer.rag.prompt import describe_source

    if not hits:
        render.note("no matching chunks")
    for hit in hits:
        render.rule(f"[{hit.rank}] {describe_source(hit.source)}  score {hit.score:.4f}", align="left")
        render.console.print(hit.text, markup=False, highlight=False)


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="Your question about the cluster.")],
    top_k: TopK = 5,
    index: IndexOption = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Model for --phrase: id, directory or adapter (default: the bundled SmolLM2).")] = None,
    phrase: Annotated[bool, typer.Option("--phrase", help="Let the model phrase the diagnosis; kept only if the guard finds it grounded.")] = False,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Length limit of the model's phrasing.")] = 96,
    namespace: Namespace = None,
    node: Node = None,
    kind: Kind = None,
    since: Since = None,
    until: Until = None,
    after: Annotated[Optional[list[str]], typer.Option(
        "--after", help="An earlier question of the conversation (repeatable, oldest first): a follow-up that names "
                        "no object is about its subject.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {question, answer, answered_by, findings, citations} JSON.")] = False,
) -> None:
    """Answer a question from the cluster's diagnosis and the index, citing the sources that hold the evidence."""
    from kubetrainer.answer.stage import open_engine

    filters = _filters(namespace, node, kind, since, until)
    engine = open_engine(open_retriever(index), model=model, phrase=phrase,
                         models_dir=STATE.settings.dir("models"), max_new_tokens=max_new_tokens, top_k=top_k)
    answer = engine.answer(text, filters=filters, earlier=after or ())
    if as_json:
        render.print_json(answer.to_json())
        return
    render.console.print(answer.text, markup=False, highlight=False, soft_wrap=True)
    if answer.sources:
        render.console.print("\nSources:", style="bold")
    for line in answer.citation_lines():
        render.console.print(line, markup=False, highlight=False, soft_wrap=True)
    note = {"model": "phrased by the model, checked against the diagnosis",
            "diagnosis": "composed from the diagnosis" + (" (the model's phrasing was not grounded)" if answer.verdict else ""),
            "none": "no finding matched"}[answer.answered_by]
    render.note(f"({note}; {answer.seconds:.1f} s)")
