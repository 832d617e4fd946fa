"""What a failing program said as it started: the setting its failure names, its version, and the previous version's
line of the same kind. Each test uses the real start-up and failure lines of the program it names."""

from __future__ import annotations

from kubetrainer.answer.compose import compose
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.startup import tokens

from .cluster import container, event, log, pod

CRASHING = dict(containers=[container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1), restarts=9)])
# vLLM 0.6's start-up lines, then the engine's refusal when the model's context does not fit the KV cache.
VLLM_START = [
    "INFO 03-14 11:56:20 api_server.py:528] vLLM API server version 0.6.3.post1",
    "INFO 03-14 11:56:26 llm_engine.py:237] Initializing an LLM engine (v0.6.3.post1) with config: "
    "model='meta-llama/Llama-3.1-8B-Instruct', dtype=torch.bfloat16, max_seq_len=131072, download_dir=None",
    "INFO 03-14 11:56:27 model_runner.py:1056] Starting to load model meta-llama/Llama-3.1-8B-Instruct...",
    "INFO 03-14 11:58:45 gpu_executor.py:113] # GPU blocks: 1853, # CPU blocks: 2048",
]
VLLM_FAILS = ("ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be "
              "stored in KV cache (29648). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
              "initializing the engine.")


def _ran(name: str, lines: list[str], namespace: str = "web", **status) -> list[dict]:
    return [pod(name, namespace, **(status or CRASHING)),
            *(log(name, line, namespace, ts=f"2026-03-14T11:{index:02d}:00Z") for index, line in enumerate(lines))]


def _about(found: list[Finding], name: str, rule: str = "crash-loop") -> Finding:
    return next(finding for finding in found if finding.name == name and finding.rule == rule)


def test_tokens_drop_clock_times_and_common_words_and_split_settings():
    line = "I0314 11:58:38.001626       1 llm_engine.py:237] Initializing with config: max_seq_len=131072, the error"
    assert tokens(line) == {"llm", "engine", "initializing", "config", "max", "seq", "len", "131072"}


def test_a_signature_names_the_start_up_line_that_states_its_setting():
    # The JVM echoes JAVA_TOOL_OPTIONS as its first line; -XX:+ExitOnOutOfMemoryError then ends it on a heap OOM.
    lines = ["Picked up JAVA_TOOL_OPTIONS: -Xmx512m -XX:+ExitOnOutOfMemoryError",
             "2026-03-14 11:54:31.911  INFO 1 --- [           main] c.a.claims.AdjudicatorApplication        : "
             "Starting AdjudicatorApplication v6.2.0 using Java 17.0.10 with PID 1",
             "2026-03-14 11:54:42.911  INFO 1 --- [       intake-2] c.a.claims.intake.BatchIntake            : "
             "Resuming batch 61 (61000 claims)",
             "Terminating due to java.lang.OutOfMemoryError: Java heap space"]
    crash = _about(diagnose(_ran("claims-1", lines)), "claims-1")
    assert [item.text for item in crash.startup] == lines[:2], "the -Xmx first, then the version banner"
    assert Finding.from_json(crash.to_json()).startup == crash.startup
    said = [*crash.evidence, *crash.changes, *crash.startup]
    assert crash.lines[: len(said)] == said and crash.settings and crash.settings[0] in crash.lines


def test_a_setting_stated_in_an_indented_block_after_the_start_is_found():
    # The JVM prints the container's limits (indented) when it cannot start a thread; the 40 opening lines are long past.
    lines = [f"2026-03-14 10:{i:02d}:00.000  INFO 1 --- [refresh-1] c.e.RatesRefresher : Rates refreshed" for i in range(45)]
    lines += ["container (cgroupv2) information:", "    Memory Limit: 2.00G", "    Maximum Processes Limit: 1024",
              "java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory or process/resource "
              "limits reached"]
    found = diagnose(_ran("rates-1", lines))
    assert "    Maximum Processes Limit: 1024" in [item.text for finding in found for item in finding.startup]


def test_the_settings_a_failure_is_governed_by_are_quoted_with_the_version():
    lines = [*VLLM_START, VLLM_FAILS]
    crash = _about(diagnose(_ran("llm-1", lines)), "llm-1")
    assert [item.text for item in crash.startup] == [VLLM_START[1], VLLM_START[0]], "max_seq_len=131072, the version"
    assert VLLM_START[3] in [item.text for item in crash.evidence], "the KV cache's blocks, quoted as the line before"


def test_a_rendezvous_timeout_quotes_torchruns_join_timeout():
    # torchrun's launch configuration block (indented), then the rendezvous giving up.
    lines = ["[2026-03-14 11:08:17,100] torch.distributed.launcher.api: [INFO] Starting elastic_operator with launch configs:",
             "  entrypoint       : train.py",
             "  rdzv_backend     : c10d",
             "  rdzv_configs     : {'join_timeout': 600, 'timeout': 900}",
             "  max_restarts     : 0",
             "[2026-03-14 11:08:17,600] torch.distributed.elastic.rendezvous.dynamic_rendezvous: [INFO] The node "
             "'train-0_47_0' attempts to join the next round of the rendezvous 'pretrain'.",
             "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError"]
    found = diagnose(_ran("train-0", lines, containers=[container(terminated=("Error", 1))], phase="Failed"))
    failed = next(finding for finding in found if finding.name == "train-0" and finding.startup)
    assert lines[3] in [item.text for item in failed.startup]


def test_the_previous_version_still_serving_shows_its_line_of_the_same_kind():
    # A rollout that only changed vLLM's arguments: both ReplicaSets run the same image; the old one serves.
    old_lines = [VLLM_START[0], VLLM_START[1].replace("Llama-3.1-8B", "Llama-3-8B").replace("131072", "8192")]
    serving = dict(containers=[container("vllm", ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    records = [*_ran("llm-qntmsgt9m8-5np2z", old_lines, **serving),
               *_ran("llm-9pfrln5zwv-2lfww", [*VLLM_START, VLLM_FAILS])]
    crash = _about(diagnose(records), "llm-9pfrln5zwv-2lfww")
    theirs = [item.text for item in crash.startup if item.name == "llm-qntmsgt9m8-5np2z"]
    assert old_lines[1] in theirs, "the old version's max_seq_len=8192 next to the new one's 131072"
    assert "previous version" not in crash.cause, "the same images: no version to name in the cause"


def test_the_previous_version_serving_on_the_port_the_new_one_cannot_bind():
    # tile-server (Rust, tracing) 1.8.3 ran as root and served on :80; 1.9.0's distroless :nonroot image cannot bind it.
    serving = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    old = ["2026-03-12T15:04:01.379705Z  INFO tile_server: tile-server 1.8.3 (rustc 1.75.0, base image debian:bookworm-slim)",
           "2026-03-12T15:04:02.756912Z  INFO tile_server::tiles: 47960211 tiles indexed (zoom 0-14)",
           "2026-03-12T15:04:03.379705Z  INFO tile_server: listening on 0.0.0.0:80"]
    new = ["2026-03-14T11:59:03.837525Z  INFO tile_server: tile-server 1.9.0 (rustc 1.77.2, base image "
           "gcr.io/distroless/cc-debian12:nonroot)",
           'failed to bind 0.0.0.0:80: Os { code: 13, kind: PermissionDenied, message: "Permission denied" }']
    found = diagnose([*_ran("tiles-wg2jxh9dxt-mlljq", old, "maps", **serving), *_ran("tiles-7bsqz8s5s9-j2qx4", new, "maps")])
    crash = _about(found, "tiles-7bsqz8s5s9-j2qx4")
    assert new[0] in [item.text for item in crash.evidence], "its :nonroot banner, quoted as the line before the failure"
    assert [item.text for item in crash.startup] == [old[2], old[0]], "the old version's listening line and banner"
    text = compose([crash], Sources([])).text
    assert "What it reported when it started:" in text
    assert "- tiles-wg2jxh9dxt-mlljq (the previous version): " in text


def test_a_scaled_up_replica_that_fails_shows_what_a_working_replica_of_its_replicaset_loaded():
    # Triton: the replicas started this morning loaded version 3; the one the autoscaler added fetched version 4,
    # which lacks its model file. Same ReplicaSet, same image: the working replica's line is the comparison.
    serving = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    old = ["I0314 06:40:17.852384 1 model_lifecycle.cc:469] loading: reranker:3",
           "I0314 06:40:17.867984 1 onnxruntime.cc:2719] TRITONBACKEND_ModelInitialize: reranker (version 3)"]
    new = ["I0314 11:58:07.426771 1 onnxruntime.cc:2719] TRITONBACKEND_ModelInitialize: reranker (version 4)",
           "E0314 11:58:07.433571 1 model_lifecycle.cc:638] failed to load 'reranker' version 4: Unavailable: unable "
           "to find '/models/reranker/4/model.onnx' for model instance 'reranker'"]
    found = diagnose([*_ran("reranker-x9n64zsvpk-7vc6q", old, "ranking", **serving),
                      *_ran("reranker-x9n64zsvpk-dwfbg", new, "ranking")])
    crash = _about(found, "reranker-x9n64zsvpk-dwfbg")
    assert old[1] in [item.text for item in crash.startup], "the working replica's version 3 next to its version 4"
    text = compose([crash], Sources([])).text
    assert "- reranker-x9n64zsvpk-7vc6q (a working replica): " in text and "previous version" not in text


def test_an_image_pull_refused_on_a_new_node_quotes_a_working_replicas_pulled_event_on_another_node():
    # Docker Hub's rate limit: the replica on a node that had the image started (the kubelet's Normal `Pulled`
    # event says it was already present); the one on a fresh node must pull and is refused.
    image = "docker.io/library/varnish:7.5.0"
    refused = (f'Failed to pull image "{image}": failed to pull and unpack image "{image}": 429 Too Many Requests - '
               "Server message: toomanyrequests: You have reached your pull rate limit.")
    serving = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    stuck = [container(waiting=("ImagePullBackOff", f'Back-off pulling image "{image}"'))]
    records = [pod("tile-cache-wdltk9fmgp-kq2xv", "tiles", node="old-1", **serving),
               event("Pod", "tile-cache-wdltk9fmgp-kq2xv", "tiles", "Pulled",
                     f'Container image "{image}" already present on machine', warning=False, host="old-1"),
               pod("tile-cache-wdltk9fmgp-89xzh", "tiles", node="new-1", containers=stuck),
               event("Pod", "tile-cache-wdltk9fmgp-89xzh", "tiles", "Failed", refused, host="new-1")]
    pull = _about(diagnose(records), "tile-cache-wdltk9fmgp-89xzh", "image-pull")
    assert [(item.name, item.text) for item in pull.startup] == [
        ("tile-cache-wdltk9fmgp-kq2xv", f'Pulled: Container image "{image}" already present on machine')]
    text = compose([pull], Sources([])).text
    assert "- tile-cache-wdltk9fmgp-kq2xv (a working replica): " in text and "already present on machine" in text


def test_a_pod_that_never_logged_gets_no_lines_from_the_previous_version():
    serving = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    records = [*_ran("gw-dhk2t98k8g-s87hf", ["gw 2.9.4 listening on :9000"], **serving),
               pod("gw-7bsqz8s5s9-66z4r", phase="Failed", reason="Evicted", message="The node was low on memory.")]
    assert all(not finding.startup for finding in diagnose(records))


def test_a_healthy_line_sharing_only_common_words_is_not_quoted():
    lines = ["2026-03-14 10:00:00,000 INFO worker: connected to the queue", "2026-03-14 10:00:01,000 INFO worker: ready",
             "2026-03-14 10:05:00,000 ERROR worker: failed to write the report: disk quota exceeded"]
    found = diagnose(_ran("worker-1", lines))
    assert all(not finding.startup for finding in found)


def test_without_a_known_setting_the_line_sharing_the_failures_rarest_words_is_chosen():
    # The AWS VPC CNI logs the subnet it allocates from at start; its failure names the same subnet.
    lines = ['{"level":"info","ts":"2026-03-14T10:40:32.410Z","caller":"aws-k8s-agent/main.go:42","msg":"Starting '
             'L-IPAMD v1.18.2 ..."}',
             '{"level":"info","ts":"2026-03-14T10:41:13.456Z","caller":"awsutils/awsutils.go:505","msg":"Found '
             'subnet-id: subnet-0a1b2c3d4e5f67890"}',
             '{"level":"info","ts":"2026-03-14T10:41:14.456Z","caller":"ipamd/ipamd.go:600","msg":"Synced ENIs"}',
             '{"level":"error","ts":"2026-03-14T11:20:01.802Z","caller":"ipamd/ipamd.go:874","msg":"Failed to allocate a '
             'private IP address from subnet-0a1b2c3d4e5f67890: no free addresses"}']
    found = diagnose(_ran("aws-node-1", lines, "kube-system"))
    assert lines[1] in [item.text for finding in found for item in finding.startup]


def test_a_failing_container_quotes_what_it_logged_just_before_its_first_failure():
    # A training run that dies on a corrupt image: the step it reached is on the last progress line, not in the error.
    lines = ["epoch 1/5 started",
             *(f"epoch 1/5 step {step}/14400 loss=0.7{step % 7} img/s=480" for step in range(50, 3200, 50)),
             "DataLoader: worker 5 reading part-0117",
             "Traceback (most recent call last):",
             '  File "/app/train.py", line 201, in main',
             "PIL.UnidentifiedImageError: cannot identify image file '/data/part-0117/SKU-4471820-front.jpg'"]
    found = diagnose(_ran("train-55cwn", lines, "ml", containers=[container(terminated=("Error", 1))],
                          phase="Failed"))
    failed = next(finding for finding in found if finding.name == "train-55cwn" and finding.before)
    assert [item.text for item in failed.before] == ["epoch 1/5 step 3150/14400 loss=0.70 img/s=480",
                                                     "DataLoader: worker 5 reading part-0117"], \
        "the last line of each shape, oldest first; no traceback frame"
    text = compose([failed], Sources([])).text
    assert 'What it logged just before it failed:\n- "epoch 1/5 step 3150/14400' in text
    assert Finding.from_json(failed.to_json()).before == failed.before, "stored with the index, read back whole"


def test_a_failing_operation_quotes_the_last_time_it_succeeded_before_it_first_failed():
    # DeepSpeed checkpoints uploaded to object storage until the bucket's quota ran out; a resume starts from the last
    # upload that worked, long before the lines just before the failure.
    lines = [*(f"INFO lumen.train: step {step} | loss 2.3{step % 7}" for step in range(16000, 17000, 50)),
             "INFO lumen.ckpt: uploaded global_step17000 to s3://ckpt/lumen-13b/global_step17000/",
             "INFO lumen.ckpt: uploaded global_step18000 to s3://ckpt/lumen-13b/global_step18000/",
             *(f"INFO lumen.train: step {step} | loss 2.1{step % 7}" for step in range(18050, 19000, 50)),
             "INFO deepspeed: [Rank 0] Checkpoint global_step19000 is ready now!",
             *(f"ERROR lumen.ckpt: upload of global_step{step} failed, keeping local copy" for step in (19000, 20000,
                                                                                                      21000)),
             "INFO lumen.ckpt: sent heartbeat"]
    found = diagnose(_ran("pretrain-0-xwjtf", lines, "ml", containers=[container(ready=True)]))
    failed = next(finding for finding in found if finding.name == "pretrain-0-xwjtf")
    uploaded = lines[21]
    assert [item.text for item in failed.succeeded] == [uploaded], "the newest success of the operation that failed"
    assert uploaded not in [item.text for item in failed.before]
    text = compose([failed], Sources([])).text
    assert f'The last time it did that successfully:\n- "{uploaded}"' in text
    assert Finding.from_json(failed.to_json()).succeeded == failed.succeeded


def test_a_failure_of_another_operation_quotes_no_success():
    lines = ["INFO sync: synced 412 files", "ERROR db: connection to postgres:5432 refused"]
    found = diagnose(_ran("reports-0-abcde", lines, "ml", containers=[container(ready=True)]))
    assert all(not finding.succeeded for finding in found)


def test_a_replica_that_never_started_is_compared_with_what_a_working_replica_said_about_its_failure():
    # A scale-up whose new pods cannot mount an NFS export their siblings on older nodes read: the new pods logged
    # nothing, a working sibling's start-up line names the same server and export.
    serving = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    said = "INFO tokenizer: dataset root /datasets (nfs 10.40.0.20:/export/datasets) ok: 18422 shards listed"
    refused = ('MountVolume.SetUp failed for volume "datasets-nfs" : mount failed: exit status 32\nMounting command: '
               "mount\nMounting arguments: -t nfs -o nfsvers=4.1,ro,hard 10.40.0.20:/export/datasets /var/lib/kubelet/"
               "pods/x/volumes/kubernetes.io~nfs/datasets-nfs\nOutput: mount.nfs: access denied by server while "
               "mounting 10.40.0.20:/export/datasets")
    found = diagnose([pod("tokenizer-jkgk8m8ghw-96r5h", "data", node="cpu-c-01", **serving),
                      log("tokenizer-jkgk8m8ghw-96r5h", said, "data", node_name="cpu-c-01"),
                      pod("tokenizer-jkgk8m8ghw-z9cnb", "data", node="cpu-c-08", phase="Pending",
                          containers=[container(waiting=("ContainerCreating", ""))]),
                      event("Pod", "tokenizer-jkgk8m8ghw-z9cnb", "data", "FailedMount", refused, count=12,
                            host="cpu-c-08")])
    failing = next(f for f in found if f.name == "tokenizer-jkgk8m8ghw-z9cnb" and f.startup)
    assert [(item.text, item.node) for item in failing.startup] == [(said, "cpu-c-01")]


def test_a_replica_that_logs_the_same_failure_is_not_a_working_counterpart_nor_is_the_pod_itself():
    # go-redis clients of one ReplicaSet, all Running and Ready, two of them writing to a Redis replica after a
    # failover; the third serves. Only the third is the working replica, and a failing pod never compares with itself.
    serving = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    start = ["2026/03/14 11:00:00 basket-api 4.1.0 listening on :8080, redis redis-0.redis:6379"]
    refused = ["2026/03/14 11:34:02 add item failed: READONLY You can't write against a read only replica."]
    found = diagnose([*_ran("basket-4h6kv7m885-6b6s8", start + refused, "carts", **serving),
                      *_ran("basket-4h6kv7m885-jcrhq", start + refused, "carts", **serving),
                      *_ran("basket-4h6kv7m885-zq2lm", start, "carts", **serving)])
    failing = _about(found, "basket-4h6kv7m885-6b6s8", "redis-readonly")
    others = {item.name for item in failing.startup} - {failing.name}
    assert others == {"basket-4h6kv7m885-zq2lm"}, "the replica that serves, not the one failing the same way"


def test_a_client_rejecting_a_servers_expired_certificate_quotes_the_certificate_the_server_loaded():
    # The ReplicaSet controller's FailedCreate when a mutating webhook's serving certificate has expired, and the
    # webhook's own start-up line for the certificate it loaded (issuer and validity, as Go's x509 fields).
    refused = ('Error creating: Internal error occurred: failed calling webhook "defaults.pod-defaults.example.io": '
               'failed to call webhook: Post "https://pod-defaults-webhook.admission.svc:443/mutate-v1-pod?timeout=10s"'
               ': tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time '
               '2026-03-14T11:15:05Z is after 2026-03-14T09:58:00Z')
    loaded = ('{"level":"info","msg":"serving certificate loaded","subject":"CN=pod-defaults-webhook.admission.svc",'
              '"issuer":"CN=pod-defaults-ca","notAfter":"2026-03-14T09:58:00Z"}')
    serving = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])
    found = diagnose([event("ReplicaSet", "booking-tqhfphsf5g", "rail", "FailedCreate", refused, count=24),
                      *_ran("pod-defaults-webhook-6c9d8f7b5-x2lqp", ['{"level":"info","msg":"starting webhook"}',
                                                                     loaded], "admission", **serving)])
    failing = next(finding for finding in found if finding.kind == "ReplicaSet")
    assert [item.text for item in failing.startup] == [loaded]
    text = compose([failing], Sources([])).text
    assert "- pod-defaults-webhook-6c9d8f7b5-x2lqp (the server it calls): " in text
