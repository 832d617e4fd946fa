"""Reading a generated dump, and the checks every appended sample scenario must pass, written once.

Each scenario's test module keeps its own `test_*` functions (so pytest still names and
parametrizes them per scenario) and calls these with the scenario's name and module; the
older scenarios have looser shapes (more questions, one to three facts, fewer planted
secrets), so the checks they share take those as parameters. Like the scenarios, nothing
here uses the diagnosis, answering, retrieval or evaluation code: a fact is stated when one
of its `|` alternatives is a case-insensitive substring (the rule `Question` documents).
Checks against the other scenarios only ever report a category, never the other scenario's
content, since some of those are held out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

from kubetrainer.cli import main
from kubetrainer.samples.cluster import SCENARIOS, build_cluster, generate_cluster
from kubetrainer.samples.model import SampleCluster
from kubetrainer.samples.secrets import planted_secrets

SEED = 7  # the seed of each module's dump, of the other scenarios it is compared with, and of the planted secrets
SECRET_KINDS = ("aws_access_key", "aws_secret_key", "url_password", "env_password", "bearer_token", "jwt",
                "slack_webhook", "github_token", "openai_key", "google_api_key")  # what the newer scenarios plant


def generate_dump(tmp_path_factory: pytest.TempPathFactory, scenario: str) -> Path:
    """One small dump of a scenario, for a module-scoped fixture: generating it is the slow part."""
    out = tmp_path_factory.mktemp(scenario) / "dump"
    generate_cluster(out, seed=SEED, size="small", scenario=scenario)
    return out


def stated(text: str, fact: str) -> bool:
    """The scoring rule, restated here so the tests do not lean on the code they check."""
    return any(alternative.strip().lower() in text.lower() for alternative in fact.split("|") if alternative.strip())


def questions_of(dump: Path) -> list[dict]:
    return [json.loads(line) for line in (dump / "questions.jsonl").read_text().splitlines()]


def items(dump: Path, namespace: str, kind: str) -> list[dict]:
    return json.loads((dump / namespace / f"{kind}.json").read_text())["items"]


def events(dump: Path, namespace: str, reason: str) -> list[dict]:
    return [e for e in items(dump, namespace, "events") if e["reason"] == reason]


def pods_named(dump: Path, namespace: str, prefix: str) -> list[dict]:
    return [p for p in items(dump, namespace, "pods") if p["metadata"]["name"].startswith(prefix)]


def all_pods(dump: Path) -> list[dict]:
    """The pods of every namespace, for checks of what runs on a node."""
    return [p for ns in sorted(dump.iterdir()) if ns.is_dir() for p in items(dump, ns.name, "pods")]


def nodes_of(dump: Path) -> dict[str, dict]:
    return {n["metadata"]["name"]: n for n in json.loads((dump / "nodes.json").read_text())["items"]}


def logs_of(dump: Path, namespace: str, name: str) -> str:
    return (dump / namespace / name / "logs.txt").read_text()


def env_of(pod: dict, container: int = 0) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][container].get("env", [])}


def status_of(pod: dict, container: str) -> dict:
    return next(s for s in pod["status"]["containerStatuses"] if s["name"] == container)


def scheduler_total(message: str) -> tuple[int, int]:
    """(N of '0/N nodes are available', the sum of the per-reason counts) of a FailedScheduling message."""
    head = message.split(". preemption:")[0]
    total = int(re.match(r"0/(\d+) nodes are available: ", head).group(1))
    return total, sum(int(n) for n in re.findall(r"(?:: |, )(\d+) ", head))


def check_logs_contain(dump: Path, phrases: Iterable[str]) -> None:
    """Each phrase is in some pod's logs word for word: the lines a reader would search for to find an incident."""
    all_logs = "".join(p.read_text() for p in dump.glob("*/*/logs.txt"))
    for phrase in phrases:
        assert phrase in all_logs, phrase


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def object_text(dump: Path, namespace: str | None, name: str) -> str:
    """Everything the dump says about one object: its events, its pod object and logs, or its node object."""
    parts: list[str] = []
    directories = [dump / namespace] if namespace else sorted(p for p in dump.iterdir() if p.is_dir())
    for directory in directories:
        parts += [t for e in items(dump, directory.name, "events") if e["involvedObject"]["name"] == name
                  for t in _strings(e)]
        parts += [t for p in items(dump, directory.name, "pods") if p["metadata"]["name"] == name for t in _strings(p)]
        if (directory / name / "logs.txt").is_file():
            parts.append((directory / name / "logs.txt").read_text())
    if namespace is None:
        parts += [t for node in json.loads((dump / "nodes.json").read_text())["items"]
                  if node["metadata"]["name"] == name for t in _strings(node)]
    return "\n".join(parts)


def check_same_seed_same_bytes(dump: Path, tmp_path: Path, scenario: str, before: tuple[str, ...]) -> None:
    """A dump is a pure function of its seed, and appending a scenario must not renumber the earlier ones."""
    generate_cluster(tmp_path / "again", seed=SEED, size="small", scenario=scenario)
    files = sorted(p.relative_to(dump) for p in dump.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((dump / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    generate_cluster(tmp_path / "other", seed=8, size=300, scenario=scenario)
    assert (dump / "questions.jsonl").read_text() != (tmp_path / "other" / "questions.jsonl").read_text()
    # the scenario is appended, once: the scenarios that were there keep their positions
    assert SCENARIOS[: len(before) + 1] == (*before, scenario) and SCENARIOS.count(scenario) == 1


def _check_each_question_states_its_facts(questions: list[dict], facts: tuple[int, int]) -> None:
    """A question is scoreable only if it is complete and its reference answer states each of its facts."""
    low, high = facts
    for question in questions:
        assert question["question"] and question["answer"] and question["evidence"]
        assert low <= len(question["facts"]) <= high, question["id"]
        for fact in question["facts"]:
            assert fact.strip() and len(fact) <= 80, (question["id"], fact)
            assert stated(question["answer"], fact), (question["id"], fact)  # the reference answer states its facts


def check_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    """Every scenario has the same shape, so scores are comparable across scenarios."""
    questions = questions_of(dump)
    assert len(questions) == 20 and len({q["id"] for q in questions}) == len(questions)
    incidents = [q["incident"] for q in questions]
    assert len(set(incidents)) == 10 and all(incidents.count(incident) == 2 for incident in incidents)
    assert sum(len(q["evidence"]) > 1 for q in questions) >= 5  # some answers need two objects
    _check_each_question_states_its_facts(questions, (2, 2))


def check_enough_incidents_and_questions(dump: Path, questions: int, incidents: int, facts: tuple[int, int] = (1, 3),
                                         pairs: bool = False) -> None:
    """The older scenarios' looser shape: at least `questions` questions on at least `incidents` incidents.

    Each question has `facts` (fewest, most) facts; with `pairs`, each incident has exactly two questions.
    """
    found = questions_of(dump)
    assert len(found) >= questions and len({q["id"] for q in found}) == len(found)
    names = [q["incident"] for q in found]
    assert len(set(names)) >= incidents
    assert not pairs or all(names.count(name) == 2 for name in names)
    _check_each_question_states_its_facts(found, facts)


def check_evidence_is_in_the_dump(dump: Path) -> dict[str, str]:
    """A question is fair only if what answers it is in the dump, on the objects its evidence names.

    Returns what the dump says about each question's evidence objects, by question id.
    """
    texts: dict[str, str] = {}
    for question in questions_of(dump):
        parts = []
        for evidence in question["evidence"]:
            text = object_text(dump, evidence["namespace"], evidence["name"])
            assert text, (question["id"], evidence["name"])
            assert evidence["contains"] in text, (question["id"], evidence)
            assert evidence["contains"].lower() not in question["question"].lower(), question["id"]
            parts.append(text)
        texts[question["id"]] = "\n".join(parts)
    return texts


def check_evidence_and_facts_are_in_the_dump(dump: Path) -> None:
    """The evidence is in the dump, and a grounded answer can state every fact from it."""
    texts = check_evidence_is_in_the_dump(dump)
    for question in questions_of(dump):
        for fact in question["facts"]:
            assert stated(texts[question["id"]], fact), (question["id"], fact)


def check_same_seed_same_questions_in_memory(scenario: str) -> None:
    """Building without writing is deterministic too, not only the files on disk."""
    first, second = build_cluster(seed=11, scenario=scenario), build_cluster(seed=11, scenario=scenario)
    assert [q.to_json() for q in first.questions] == [q.to_json() for q in second.questions]
    assert first.events == second.events


def check_does_not_reuse(dump: Path, scenario: str, module: ModuleType, other: str) -> None:
    """Neither the questions nor the workloads of a scenario come from another one."""
    known = build_cluster(seed=SEED, scenario=other)
    check_questions_do_not_reuse(dump, other, known)
    check_workloads_do_not_reuse(scenario, module, other, known)


def check_questions_do_not_reuse(dump: Path, other: str, known: SampleCluster | None = None) -> None:
    """Only booleans reach the assertions: a failure names the category, not the other scenario's content."""
    known = build_cluster(seed=SEED, scenario=other) if known is None else known
    mine = questions_of(dump)
    mine_evidence = [e for q in mine for e in q["evidence"]]
    same_ids = bool({q.id for q in known.questions} & {q["id"] for q in mine})
    same_incidents = bool({q.incident for q in known.questions} & {q["incident"] for q in mine})
    same_questions = bool({q.question for q in known.questions} & {q["question"] for q in mine})
    known_objects = {(e.namespace, e.name) for q in known.questions for e in q.evidence}
    known_phrases = {e.contains for q in known.questions for e in q.evidence}
    known_namespaces = {e.namespace for q in known.questions for e in q.evidence} - {None, "kube-system"}
    same_objects = any((e["namespace"], e["name"]) in known_objects for e in mine_evidence)
    same_phrases = any(e["contains"] in known_phrases for e in mine_evidence)
    same_namespaces = any(e["namespace"] in known_namespaces for e in mine_evidence)
    assert not same_ids, f"a question id is shared with {other}"
    assert not same_incidents, f"an incident name is shared with {other}"
    assert not same_questions, f"a question is shared with {other}"
    assert not same_objects, f"an evidence object is shared with {other}"
    assert not same_phrases, f"an evidence phrase is shared with {other}"
    assert not same_namespaces, f"an evidence namespace is shared with {other}"


def check_workloads_do_not_reuse(scenario: str, module: ModuleType, other: str,
                                 known: SampleCluster | None = None) -> None:
    """Against everything the other scenario places, its incidents' own workloads included; booleans only, as above."""
    known = build_cluster(seed=SEED, scenario=other) if known is None else known
    own = module.WORKLOADS + module.PLACED
    shared_pod_namespaces = bool(({w.namespace for w in own} - {"kube-system"}) & {p.namespace for p in known.pods})
    shared_workloads = bool({w.name for w in own} & {p.workload.name for p in known.pods})
    assert not shared_pod_namespaces, f"a namespace of {scenario}'s workloads has pods in {other}"
    assert not shared_workloads, f"a workload name is shared with {other}"


def check_every_namespace_belongs_to_a_workload(dump: Path, module: ModuleType) -> None:
    """No stray namespace: each one in the dump comes from the common workloads or the scenario's own."""
    from kubetrainer.samples.workloads import WORKLOADS

    known = {w.namespace for w in WORKLOADS + module.WORKLOADS + module.PLACED} | {"default"}
    assert {p.name for p in dump.iterdir() if p.is_dir()} <= known


def check_secrets_are_planted(dump: Path, kinds: tuple[str, ...] = SECRET_KINDS) -> None:
    """The dump carries each kind of planted secret for redaction to find, and no question gives one away."""
    everything = "".join(p.read_text() for p in dump.rglob("*") if p.is_file())
    values = planted_secrets(SEED).values()
    for kind in kinds:
        assert values[kind] in everything, kind
    questions = (dump / "questions.jsonl").read_text()
    assert not any(value in questions for value in values.values())


def check_cli_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str, misspelt: str,
                       ids: tuple[str, ...], absent: tuple[str, ...] = (), count: int | None = 20) -> None:
    """`samples cluster --scenario` selects the scenario by name, and a misspelt name is an error that names it.

    The written questions include `ids` (`count` of them, unless None), and no text of them has any of `absent`:
    the other scenarios' question ids.
    """
    def args(out: Path) -> list[str]:
        return ["--home", str(tmp_path / "home"), "samples", "cluster", "--out", str(out), "--size", "300",
                "--seed", "3"]

    assert main([*args(tmp_path / "dump"), "--scenario", scenario]) == 0
    text = (tmp_path / "dump" / "questions.jsonl").read_text()
    written = {json.loads(line)["id"] for line in text.splitlines()}
    assert set(ids) <= written and (count is None or len(written) == count)
    assert not [other for other in absent if other in text]
    capsys.readouterr()
    assert main([*args(tmp_path / "other"), "--scenario", misspelt]) == 2
    assert scenario in " ".join(capsys.readouterr().err.split())
