"""Secrets planted in every source never reach the index directory, the cache, query results or prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer import versions
from kubetrainer.answer import AnswerEngine
from kubetrainer.answer.phrase import phrasing_messages
from kubetrainer.diagnose.store import read_findings
from kubetrainer.generation.chat import render
from kubetrainer.rag import Retriever
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import build_index
from kubetrainer.records import make_record
from kubetrainer.samples.secrets import planted_secrets
from kubetrainer.sources.auto import records_from_path
from kubetrainer.sources.base import Problems
from kubetrainer.sources.kube import records_from_list

SECRETS = planted_secrets(99)
QUERIES = ["password", "token", "api key", "aws credentials", "private key", "webhook", "authorization bearer", "git clone", "jwt"]


def _lines(s) -> list[str]:
    """One line per kind of secret, the way they leak in real logs."""
    return [
        f"export AWS_ACCESS_KEY_ID={s.aws_access_key} AWS_SECRET_ACCESS_KEY={s.aws_secret_key}",
        f"GET /api with Authorization: Bearer {s.bearer_token}",
        f"session token {s.jwt} accepted",
        f"connecting to postgres://app:{s.url_password}@db.data.svc:5432/app",
        f"DB_PASSWORD={s.env_password}",
        f"posting alert to {s.slack_webhook}",
        f"cloning https://{s.github_token}@github.com/example/repo.git",
        f"OPENAI_API_KEY={s.openai_key}",
        f"maps url https://maps.example.com/?key={s.google_api_key}",
    ]


def _plant_everywhere(root: Path) -> list[Path]:
    lines = _lines(SECRETS)
    pods = root / "pods" / "web_api-0_11111111-2222-3333-4444-555555555555" / "app"
    pods.mkdir(parents=True)
    (pods / "0.log").write_text("".join(f"2026-03-14T10:00:{i:02d}.000000000Z stderr F ERROR {line}\n" for i, line in enumerate(lines)))
    files = root / "files"
    files.mkdir()
    (files / "app.log").write_text("\n".join(f"WARN {line}" for line in lines) + "\n")
    (files / "runbook.md").write_text("# Rotating credentials\n" + "\n".join(lines) + "\n\n## Keys\n" + SECRETS.private_key_block + "\n")
    (files / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n"
        f"        env:\n        - name: DB_PASSWORD\n          value: {SECRETS.env_password}\n        - name: TLS_KEY\n          value: |\n"
        + "".join(f"            {line}\n" for line in SECRETS.private_key_block.splitlines())
    )
    agent = [make_record("log", f"2026-03-14T10:01:{i:02d}Z", "agent", f"ERROR {line}", namespace="web", pod="agent-seen", container="app") for i, line in enumerate(lines)]
    (files / "agent.jsonl").write_text("".join(json.dumps(r) + "\n" for r in agent))
    return [root / "pods", files]


def _api_records() -> list[dict]:
    """What the live-API reader converts: a PodList with secret env values, a ConfigMapList with secret data."""
    pod = {"metadata": {"name": "api-1", "namespace": "web"}, "spec": {"nodeName": "cpu-0", "containers": [{"name": "api", "image": "api:1", "env": [{"name": "DB_PASSWORD", "value": SECRETS.env_password}]}]}, "status": {"phase": "Running"}}
    config = {"metadata": {"name": "api-config", "namespace": "web"}, "data": {"api_token": SECRETS.github_token, "webhook": SECRETS.slack_webhook, "mode": "fast"}}
    return records_from_list({"kind": "PodList", "items": [pod]}, "api") + records_from_list({"kind": "ConfigMapList", "items": [config]}, "api")


@pytest.fixture(scope="module")
def planted_index(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, sample_dump: Path) -> tuple[Path, Path, int]:
    root = tmp_path_factory.mktemp("secrets")
    problems = Problems()
    records = [r for path in [sample_dump, *_plant_everywhere(root)] for r in records_from_path(path, problems)] + _api_records()
    embedder = Embedder(tiny_model, cache_dir=root / "cache")
    build_index(root / "index", records, embedder, window_minutes=360)
    return root / "index", root / "cache", sum(r.get("redactions", 0) for r in records)


def _leaks(text: str) -> list[str]:
    values = {**SECRETS.values(), **planted_secrets(0).values()}  # the sample dump uses seed 0
    return [kind for kind, value in values.items() if value[:24] in text]


def test_no_secret_in_any_file_of_the_index_or_cache(planted_index: tuple[Path, Path, int]) -> None:
    index, cache, redactions = planted_index
    assert redactions >= 30
    files = [p for p in [*index.rglob("*"), *cache.rglob("*")] if p.is_file()]
    assert any(p.name == "chunks.jsonl" for p in files)
    for path in files:
        assert _leaks(path.read_bytes().decode("latin-1")) == [], path
    chunks = (versions.current(index) / "chunks.jsonl").read_text()
    assert "[REDACTED:" in chunks and "(value withheld)" in chunks


def test_no_secret_in_query_results_answers_or_prompts(planted_index: tuple[Path, Path, int], tiny_model: Path, tiny_tokenizer) -> None:
    retriever = Retriever.open(planted_index[0], embedder=Embedder(tiny_model))
    tokenizer = tiny_tokenizer()
    for query in QUERIES:
        hits = retriever.search(query, top_k=10)
        assert hits
        assert _leaks(json.dumps([hit.to_json() for hit in hits])) == []
        answer = AnswerEngine(retriever, read_findings(planted_index[0])).answer(query)
        assert _leaks(json.dumps(answer.to_json())) == []
        assert _leaks(render(tokenizer, phrasing_messages(query, answer.text))) == []
