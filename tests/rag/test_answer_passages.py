"""Retrieved lines on the question beyond the findings: chosen by the question's rarer words or the object it
names, quoted verbatim with the source that holds them, and scored as citations of what they quote."""

from __future__ import annotations

import json

from kubetrainer.answer.compose import quote, with_listeners, with_passages, with_unflagged
from kubetrainer.answer.listeners import listeners
from kubetrainer.answer.passages import MAX_PASSAGES, passages
from kubetrainer.answer.sources import Sources
from kubetrainer.answer.unflagged import unflagged
from kubetrainer.diagnose.finding import Finding
from kubetrainer.evaluate.oncall import citation_precision
from kubetrainer.rag.chunk import Chunk
from kubetrainer.rag.retriever import Hit


def _hit(rank: int, text: str, name: str, kind: str = "log", namespace: str = "sensors") -> Hit:
    return Hit(rank, 1.0 / rank, text, {"kind": kind, "namespace": namespace, "name": name})


INGEST_LOG = _hit(1, "\n".join([
    "Routine log patterns of container app of pod sensors/ingest-7d9f-x2 on node cpu-0, 10:00 to 11:00 UTC (40 lines):",
    "Meaning: ClickHouse throttles inserts when a partition has too many parts.",
    '38x {"level": "info", "msg": "flushed batch", "rows": <*>}',
    "Said once:",
    '{"level": "info", "msg": "release 2.4.0 starting", "batch_max_rows": 50, "flush_interval_ms": 100}',
    '{"level": "error", "msg": "insert failed", "error": "code: 252, message: Too many parts (3005)"}',
]), "ingest-7d9f-x2")
SCHEDULED = _hit(2, "Events for Pod sensors/ingest-7d9f-x2 (node cpu-0):\nNormal Scheduled: Successfully assigned "
                    "sensors/ingest-7d9f-x2 to cpu-0 [at 10:00:01]", "ingest-7d9f-x2", kind="event")
PORTAL = _hit(3, "Routine log patterns of container app of pod accounts/sso-portal-4lrp-c7cv8 on node cpu-b-1:\n"
                 '10x {"msg": "oauth callback completed", "status": 302, "set_cookie_bytes": <*>}',
              "sso-portal-4lrp-c7cv8", namespace="accounts")
ANSWERED = 'Evidence:\n- "code: 252, message: Too many parts (3005)" [1]'


def test_a_line_sharing_the_questions_rarer_words_is_picked_and_a_quoted_line_is_not() -> None:
    found = passages("Which ingest release starts with the small batch setting?", [INGEST_LOG], ANSWERED, quote)
    assert [passage.line for passage in found] == [
        '{"level": "info", "msg": "release 2.4.0 starting", "batch_max_rows": 50, "flush_interval_ms": 100}'
    ], "the line the answer quotes, the chunk's heading and the index's own lines are never picked"


def test_one_common_word_or_the_lines_own_object_name_is_not_enough() -> None:
    hits = [INGEST_LOG, SCHEDULED, PORTAL]
    assert passages("Is the sso-portal app itself failing the logins?", hits, ANSWERED, quote) == [], \
        "'failed' alone ties no ingest line to the question"
    assert passages("Is ingest-7d9f-x2 healthy?", [SCHEDULED], "", quote) == [], "the event names its object, nothing more"
    assert passages("Was ingest-7d9f-x2 scheduled on cpu-0?", [SCHEDULED], "", quote)[0].hit is SCHEDULED


def test_siblings_identical_lines_are_quoted_once_and_at_most_a_few_lines_are() -> None:
    siblings = [_hit(rank, f"Pod sensors/ingest-{rank}x: image sensors/ingest:2.4.0 batch rows 50", f"ingest-{rank}x",
                     "object") for rank in range(1, 8)]
    found = passages("Which image and batch rows does ingest run?", siblings, "", quote)
    assert len(found) == 1 and found[0].hit is siblings[0]
    distinct = [_hit(rank, f"Pod sensors/ingest-{rank}x: {word} image batch rows", f"ingest-{rank}x", "object")
                for rank, word in enumerate(["alpha", "bravo", "charlie", "delta", "echo"], start=1)]
    assert len(passages("Which image and batch rows does ingest run?", distinct, "", quote)) == MAX_PASSAGES


def test_retrieved_lines_are_shown_as_data_with_the_source_that_holds_them() -> None:
    sources = Sources([INGEST_LOG, PORTAL])
    sources.add_retrieved()
    found = passages("Which ingest release starts with the small batch setting?", [INGEST_LOG, PORTAL], ANSWERED, quote)
    text = with_passages(ANSWERED, found, sources)
    line = '{"level": "info", "msg": "release 2.4.0 starting", "batch_max_rows": 50, "flush_interval_ms": 100}'
    assert text == f'{ANSWERED}\n\nOther retrieved lines on the question:\n- sensors/ingest-7d9f-x2: "{line}" [1]'
    assert sources.holds(1, found[0].line)
    listed = [{"text": hit.text} for hit in sources.listed]
    assert citation_precision(text, listed, [found[0].line, "Too many parts (3005)"]) == (2, 2)
    assert with_passages(ANSWERED, [], sources) == ANSWERED


def _object(text: str, namespace: str | None, name: str) -> Chunk:
    return Chunk(text, "object", namespace=namespace, name=name)


def test_a_suspect_the_question_names_that_has_no_finding_is_said_to_have_none_with_its_status() -> None:
    manager = _object("Deployment cert-manager/cert-manager: 1/1 replicas ready.", "cert-manager", "cert-manager")
    ingress = _object("Deployment ingress-nginx/ingress-nginx-controller: 2/2 replicas ready.", "ingress-nginx",
                      "ingress-nginx-controller")
    node = _object("Node cpu-0: Ready; no memory, disk or PID pressure.", None, "cpu-0")
    pod = _object("Pod cert-manager/cert-manager-qltp5kcmwd-bst6s on node cpu-1: phase Running.", "cert-manager",
                  "cert-manager-qltp5kcmwd-bst6s")
    failing = Finding("tls-secret-missing", "warning", "Pod", "ingress-nginx", "ingress-nginx-controller-v7m7prsc25-v42w6",
                      "the Ingress's TLS Secret does not exist", "meaning", "fix", (), node="cpu-0")
    chunks = [pod, manager, ingress, node]
    named = unflagged("Is cert-manager failing for the helpdesk site on cpu-0?", chunks, [failing])
    assert [passage.line for passage in named] == [manager.text], "its pod is covered by it; cpu-0 has a finding"
    assert unflagged("Is the ingress nginx controller at fault?", chunks, [failing]) == [], "its pod has the finding"
    stalled = Finding("failed-create", "critical", "ReplicaSet", "cert-manager", "cert-manager-qltp5kcmwd", "cannot "
                      "create pods", "meaning", "fix", ())
    assert unflagged("Is cert-manager failing?", chunks, [stalled]) == [], "its ReplicaSet has a finding"
    assert unflagged("Is some cpu node down?", chunks, []) == [], "a name with a digit counts only written out"
    assert [p.line for p in unflagged("Is cpu-0 down?", chunks, [])] == [node.text]
    sources = Sources([])
    text = with_unflagged("Lead [1]", named, sources)
    assert text == f'Lead [1]\n\nNamed in the question, with no finding:\n- "{manager.text}" [1]'
    assert sources.holds(1, manager.text)


def test_a_version_question_about_a_suspect_without_finding_also_gets_the_newest_version_its_pods_stated() -> None:
    planner = _object("Deployment rail/journey-planner: 3/3 replicas ready.", "rail", "journey-planner")
    check = '{{"ts": "2026-03-14T{}:00Z", "level": "info", "msg": "timetable check", "version": "{}", "trips": 17104}}'
    search = '{"ts": "2026-03-14T11:00:01Z", "level": "info", "msg": "journey search", "status": 200}'
    older = Chunk(f"Logs of rail/journey-planner-pskznz2gnk-g7lwh 06:00-06:10\n{check.format('06:00', 'v20260312.1')}",
                  "log", namespace="rail", name="journey-planner-pskznz2gnk-g7lwh", ts_end="2026-03-14T06:10:00Z")
    newer = Chunk(f"Logs of rail/journey-planner-pskznz2gnk-g7lwh 11:00-11:10\n{check.format('11:00', 'v20260313.2')}"
                  f"\n{search}", "log", namespace="rail", name="journey-planner-pskznz2gnk-g7lwh",
                  ts_end="2026-03-14T11:10:00Z")
    chunks = [planner, older, newer]
    named = unflagged("Which timetable version is journey-planner still serving?", chunks, [])
    assert [passage.line for passage in named] == [planner.text, check.format("11:00", "v20260313.2")]
    assert [p.line for p in unflagged("Is journey-planner down?", chunks, [])] == [planner.text], "not asked: no line"
    text = with_unflagged("Lead [1]", named, Sources([]))
    assert text.endswith('- journey-planner-pskznz2gnk-g7lwh logged: "' + check.format("11:00", "v20260313.2") + '" [2]')


def test_a_release_asked_about_by_number_gets_the_images_the_workloads_named_after_it_run() -> None:
    # "Is partner-sync 1.9.0 live now?" after a failed `helm upgrade`: the Deployment partner-sync-api has no finding;
    # its running pod's record says which image is live.
    api = _object("Deployment partner-sync/partner-sync-api: 2/2 replicas ready.", "partner-sync", "partner-sync-api")
    running = _object("Pod partner-sync/partner-sync-api-tfgdwb9db6-k6qs4 on node cpu-st-0: phase Running; container "
                      "app running; images registry.example.com/partners/partner-sync-api:1.8.2; env app: LOG=info.",
                      "partner-sync", "partner-sync-api-tfgdwb9db6-k6qs4")
    failed = _object("Pod partner-sync/partner-sync-api-x5vnb2gq7d-2kqzt on node cpu-st-1: phase Failed; container "
                     "app terminated: Error exit code 1; images registry.example.com/partners/partner-sync-api:1.9.0.",
                     "partner-sync", "partner-sync-api-x5vnb2gq7d-2kqzt")
    chunks = [failed, running, api]
    named = unflagged("Is partner-sync 1.9.0 live now?", chunks, [])
    assert [p.line for p in named] == [api.text, "images registry.example.com/partners/partner-sync-api:1.8.2"]
    assert unflagged("Is partner-sync live now?", chunks, []) == [], "no release number: only whole names count"
    text = with_unflagged("Lead [1]", named, Sources([]))
    assert text.endswith('- partner-sync-api-tfgdwb9db6-k6qs4: "images registry.example.com/partners/partner-sync-api:'
                         '1.8.2" [2]')


def test_a_controller_asked_about_for_a_namespace_gets_the_newest_event_it_reported_there() -> None:
    # cert-manager issued the helpdesk Certificate; the Ingress names another Secret (a finding of ingress-nginx)
    manager = _object("Deployment cert-manager/cert-manager: 1/1 replicas ready.", "cert-manager", "cert-manager")
    certificate = Chunk("Events for Certificate helpdesk/support-example-com:\n"
                        "Normal Issuing: Issuing certificate as Secret does not exist [at 10:54:58 by "
                        "cert-manager-certificates-trigger]\nNormal Issuing: The certificate has been successfully "
                        "issued [at 10:55:09 by cert-manager-certificates-issuing]", "event", namespace="helpdesk",
                        name="support-example-com", ts_end="2026-03-14T10:55:09Z")
    scheduled = Chunk("Events for Pod helpdesk/desk-5d8f9c7b6d-x2lqp:\nNormal Scheduled: Successfully assigned "
                      "helpdesk/desk-5d8f9c7b6d-x2lqp to cpu-1 [at 11:00:00 by default-scheduler]", "event",
                      namespace="helpdesk", name="desk-5d8f9c7b6d-x2lqp", ts_end="2026-03-14T11:00:00Z")
    chunks = [manager, certificate, scheduled]
    named = unflagged("Is cert-manager failing for the helpdesk site?", chunks, [])
    issued = "Normal Issuing: The certificate has been successfully issued [at 10:55:09 by cert-manager-certificates-issuing]"
    assert [passage.line for passage in named] == [manager.text, issued]
    assert [p.line for p in unflagged("Is cert-manager failing?", chunks, [])] == [manager.text], "no namespace named"
    text = with_unflagged("Lead [1]", named, Sources([]))
    assert text.endswith(f'- helpdesk/support-example-com: "{issued}" [2]')


def test_a_question_naming_a_port_gets_the_pods_that_listen_on_it_on_the_node_it_names() -> None:
    # node_exporter (go-kit logfmt) on two nodes, and an app on another port: "what holds port 9100 on cpu-0?"
    def exporter(name: str, node: str) -> Chunk:
        return Chunk(f"Routine log patterns of container node-exporter of pod monitoring/{name} on node {node}:\n"
                     "Said once:\nts=2026-03-12T07:00:02.114Z caller=node_exporter.go:193 level=info msg=\"Starting "
                     "node_exporter\" version=\"(version=1.7.0)\"\nts=2026-03-12T07:00:02.121Z caller=tls_config.go:313 "
                     'level=info msg="Listening on" address=[::]:9100', "log", namespace="monitoring", name=name,
                     node=node)

    on_cpu0, on_cpu1 = exporter("node-exporter-h8x2k", "cpu-0"), exporter("node-exporter-q4w7z", "cpu-1")
    api = Chunk("Routine log patterns of container app of pod shop/api-7d9f8c6b5d-x2lqp on node cpu-0:\nSaid once:\n"
                "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)", "log", namespace="shop",
                name="api-7d9f8c6b5d-x2lqp", node="cpu-0")
    chunks = [api, on_cpu1, on_cpu0]
    found = listeners("What is already holding port 9100 on cpu-0?", chunks)
    assert [(p.hit.source["name"], p.line.endswith("address=[::]:9100")) for p in found] == [("node-exporter-h8x2k", True)]
    assert [p.hit.source["name"] for p in listeners("Who listens on port 9100?", chunks)] == [
        "node-exporter-q4w7z", "node-exporter-h8x2k"]
    assert listeners("Why is cpu-0 slow?", chunks) == [] and listeners("What holds port 5432?", chunks) == []
    text = with_listeners("Lead [1]", found, Sources([]))
    assert text.startswith("Lead [1]\n\nListening on the port the question names:\n- monitoring/node-exporter-h8x2k "
                           'on node cpu-0: "ts=2026-03-12T07:00:02.121Z') and text.endswith(" [1]")


def test_a_line_whose_quote_the_answer_already_shows_is_not_repeated_and_never_loops() -> None:
    error = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands "
             "that may modify the data set are disabled, because this instance is configured to report errors during "
             "writes if RDB snapshotting fails (stop-writes-on-bgsave-error option).")
    lines = [json.dumps({"ts": f"2026-03-14T09:0{i}:00Z", "msg": "slot hold failed", "err": error}) for i in range(2)]
    answered = f"Related:\n  {quote(lines[0])} [2]"
    hit = _hit(1, "Routine log patterns of container app of pod bookings/api-7d9f8c6b5d-x2lqp:\n" + lines[1],
               "api-7d9f8c6b5d-x2lqp", namespace="bookings")
    assert passages("Why does the slot hold fail with MISCONF from Redis?", [hit], answered, quote) == []
    assert passages("Why does the slot hold fail with MISCONF from Redis?", [hit], "", quote)[0].line == lines[1]
