"""'What changed?' answered from the changes the diagnosis recorded and the index stored, quoted and cited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.answer import AnswerEngine
from kubetrainer.diagnose.store import read_changes, read_findings
from kubetrainer.rag import Retriever
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import build_index
from kubetrainer.records import make_record

# Flux's kustomize-controller after an apply (v1.x JSON logging).
APPLIED = json.dumps({"level": "info", "ts": "2026-03-14T10:38:00.000Z", "msg": "server-side apply completed",
                      "controller": "kustomization", "name": "warehouse", "namespace": "flux-system",
                      "output": {"Deployment/warehouse/inventory": "unchanged",
                                 "NetworkPolicy/warehouse/default-deny-ingress": "created"}})
SCALED = ("2026-03-14 07:00:00,000 INFO: Scaling down Deployment gatekeeper-system/gatekeeper-controller-manager "
          "from 3 to 0 replicas (uptime: always, downtime: Sat-Sun 08:00-24:00 Europe/Berlin)")
FAILED = "ERROR orders: dial tcp 10.96.4.7:5432: connect: connection refused"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> AnswerEngine:
    root = tmp_path_factory.mktemp("changes-index")
    records = [make_record("log", "2026-03-14T10:38:00Z", "dump", APPLIED, namespace="flux-system",
                           pod="kustomize-controller-7f-49vj6", container="manager", node="cpu-0"),
               make_record("log", "2026-03-14T07:00:00Z", "dump", SCALED, namespace="platform",
                           pod="kube-downscaler-5c-x2", container="app", node="cpu-1"),
               *(make_record("log", f"2026-03-14T11:0{i}:00Z", "dump", FAILED, namespace="billing", pod="orders-1",
                             container="app", node="cpu-1") for i in range(3))]
    embedder = Embedder(tiny_model, cache_dir=root / "cache")
    build_index(root / "index", records, embedder, source="test")
    return AnswerEngine(Retriever.open(root / "index", embedder=embedder), read_findings(root / "index"))


def test_the_index_stores_the_changes_it_saw(engine: AnswerEngine) -> None:
    stored = read_changes(engine.retriever.directory)
    assert [(change.kind, change.namespace, change.name) for change in stored] == [
        ("Deployment", "gatekeeper-system", "gatekeeper-controller-manager"),
        ("NetworkPolicy", "warehouse", "default-deny-ingress")], "oldest first; an unchanged object is no change"


def test_what_changed_in_a_namespace_lists_its_changes_with_citations(engine: AnswerEngine) -> None:
    answer = engine.answer("What changed in the warehouse namespace this morning?")
    assert answer.answered_by == "changes"
    assert "(NetworkPolicy warehouse/default-deny-ingress created)" in answer.text
    assert "gatekeeper" not in answer.text, "another namespace's change is not what was asked"
    assert f'{APPLIED}" [1]' in answer.text and APPLIED in answer.sources[0].text, "quoted and cited verbatim"


def test_a_question_naming_nothing_gets_every_change_and_one_naming_a_quiet_namespace_none(engine) -> None:
    everything = engine.answer("What has changed recently?")
    assert "gatekeeper-controller-manager" in everything.text and "default-deny-ingress" in everything.text
    quiet = engine.answer("What changed in billing?")
    assert quiet.answered_by != "changes", "billing is named and nothing changed there: its failures answer"
    assert engine.answer("Why is orders-1 failing?").answered_by != "changes"


def test_the_changes_just_before_the_failure_the_question_describes_come_first() -> None:
    from kubetrainer.answer.sources import Sources
    from kubetrainer.answer.timeline import compose_changes
    from kubetrainer.diagnose.changes import Change
    from kubetrainer.diagnose.finding import Evidence, Finding

    def change(name: str, namespace: str, ts: str) -> Change:
        text = f"ReplicaSet {namespace}/{name}: 1/1 replicas ready; created {ts}."
        return Change(Evidence(text, "object", namespace, name, ts=ts), "Deployment", name.rsplit("-", 1)[0], namespace)

    pooler, other = change("pgbouncer-7d9f8c6b5d", "lending", "2026-03-14T10:35:00Z"), change(
        "search-5c8d7f9b6", "shop", "2026-03-14T10:50:00Z")
    failing = Finding("pg-prepared-statement-pooler", "warning", "Pod", "lending", "loans-api-1", "prepared statements",
                      "m", "f", ("prepared statement",), changes=[pooler.evidence])
    text = compose_changes([pooler, other], [failing], Sources([]))
    assert text.index("shortly before the failure") < text.index("pgbouncer-7d9f8c6b5d") < text.index(
        "Other changes") < text.index("search-5c8d7f9b6")
    # the rollout shortly before the failure is followed by what its new pod was started with, from the pod's record
    from kubetrainer.rag.chunk import Chunk

    env = "env pgbouncer: PGBOUNCER_POOL_MODE=transaction, PGBOUNCER_DEFAULT_POOL_SIZE=20"
    bouncer = Chunk(f"Pod lending/pgbouncer-7d9f8c6b5d-x2lqp on node cpu-1: phase Running; container pgbouncer running; "
                    f"images docker.io/bitnami/pgbouncer:1.20.1; {env}.", "object", namespace="lending",
                    name="pgbouncer-7d9f8c6b5d-x2lqp")
    search = Chunk("Pod shop/search-5c8d7f9b6-q4w7z on node cpu-2: phase Running; container app running; images "
                   "search:2.0; env app: INDEX=products.", "object", namespace="shop", name="search-5c8d7f9b6-q4w7z")
    sources = Sources([], [bouncer, search])
    text = compose_changes([pooler, other], [failing], sources)
    assert f'\n  its pod pgbouncer-7d9f8c6b5d-x2lqp: "{env}" [2]\n' in text and "INDEX=products" not in text
    assert sources.holds(2, env)
    plain = compose_changes([pooler, other], [], Sources([]))
    assert plain.startswith("What changed, as the cluster's data records it") and "Other changes" not in plain


def test_a_rollout_before_the_same_problem_on_another_object_is_what_changed_before_the_lead() -> None:
    # ClickHouse refusing inserts (the lead: the server logs it most) and the client that floods it, rolled out
    # shortly before it began to fail: the client's rollout is what changed before the problem.
    from kubetrainer.answer.compose import compose
    from kubetrainer.answer.sources import Sources
    from kubetrainer.diagnose.finding import Evidence, Finding

    rollout = Evidence("ReplicaSet data/ingest-7d9f8c6b5d: 3/3 replicas ready; created 2026-03-14T10:05:00Z.", "object",
                       "data", "ingest-7d9f8c6b5d", ts="2026-03-14T10:05:00Z")

    def refusing(name: str, changes: list[Evidence]) -> Finding:
        return Finding("clickhouse-too-many-parts", "warning", "Pod", "data", name,
                       f"Container app of pod data/{name}: ClickHouse refuses inserts: too many parts", "m", "f",
                       ("too many parts",), [Evidence(f"Code: 252. Too many parts ({name})", "log", "data", name)],
                       container="app", changes=changes)

    text = compose([refusing("clickhouse-0", []), refusing("ingest-7d9f8c6b5d-x2lqp", [rollout])], Sources([])).text
    assert "The same on Pod ingest-7d9f8c6b5d-x2lqp" in text
    assert "What changed shortly before:\n- 10:05 UTC, ingest-7d9f8c6b5d: \"ReplicaSet data/ingest-7d9f8c6b5d" in text


def test_a_question_naming_a_workload_also_gets_the_changes_before_its_failures() -> None:
    # "what changed on the Windows side?" about edifact-bridge: its rollout, and the node its pod was put on, which
    # joined just before (a change to no namespace, named nowhere in the question)
    from kubetrainer.answer.timeline import in_scope
    from kubetrainer.diagnose.changes import Change
    from kubetrainer.diagnose.finding import Evidence, Finding

    rollout = Change(Evidence("ReplicaSet edi/edifact-bridge-6d9f8c7b5d: 0/2 replicas ready; created "
                              "2026-03-13T22:04:00Z.", "object", "edi", "edifact-bridge-6d9f8c7b5d",
                              ts="2026-03-13T22:04:00Z"), "Deployment", "edifact-bridge", "edi")
    joined = Change(Evidence("Node win-7: Ready; Windows Server 2022 Datacenter, kernel 10.0.20348.2340; created "
                             "2026-03-13T22:00:00Z.", "object", None, "win-7", ts="2026-03-13T22:00:00Z"),
                    "Node", "win-7", None)
    elsewhere = Change(Evidence("Node cpu-9: Ready; created 2026-03-13T23:00:00Z.", "object", None, "cpu-9",
                                ts="2026-03-13T23:00:00Z"), "Node", "cpu-9", None)
    question = "The edifact-bridge pods ran on the same image tag all last week. What changed on the Windows side?"
    changes = [joined, rollout, elsewhere]
    pulling = Finding("image-pull", "critical", "Pod", "edi", "edifact-bridge-6d9f8c7b5d-x2lqp", "cannot be pulled",
                      "m", "f", ("pull",), changes=[joined.evidence, rollout.evidence])
    assert in_scope(question, changes, failures=[pulling]) == [joined, rollout]
    assert in_scope(question, changes) == [rollout]
    unnamed = Finding("crash-loop", "critical", "Pod", "ops", "cron-agent-1", "crashes", "m", "f", ("crash",),
                      changes=[elsewhere.evidence])
    assert in_scope(question, changes, failures=[unnamed]) == [rollout], "a failure the question does not name"
