"""One test per diagnosis rule, each from the message format the real component prints."""

from __future__ import annotations

import pytest

from kubetrainer.answer.compose import compose, order
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.finding import Finding
from kubetrainer.sources.kube import object_record
from kubetrainer.sources.render import render_pod

from .cluster import claim, container, event, log, node, pod, workload


def only(findings: list[Finding], rule: str) -> Finding:
    matching = [finding for finding in findings if finding.rule == rule]
    assert len(matching) == 1, [(f.rule, f.subject) for f in findings]
    return matching[0]


def test_oom_killed_container_states_the_memory_limit_cause_with_its_status_as_evidence():
    found = diagnose([pod("api-1", containers=[container(waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container=app"),
                                                         last=("OOMKilled", 137), restarts=7)]),
                      event("Pod", "api-1", "web", "BackOff", "Back-off restarting failed container app in pod api-1_web(uid)")])
    finding = only(found, "oom-killed")
    assert "OOMKilled" in finding.cause and "137" in finding.cause and "7 restarts" in finding.cause
    assert any("last terminated: OOMKilled exit code 137" in item.text for item in finding.evidence)
    assert not [f for f in found if f.rule.startswith("event-")], "the BackOff event is explained, not repeated"


def test_crash_loop_is_explained_by_the_containers_last_error_line():
    fatal = '{"level":"fatal","msg":"invalid configuration: payments.timeout: \\"30 seconds\\" is not a valid duration"}'
    found = diagnose([pod("checkout-7d9f-x2", containers=[container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1), restarts=12)]),
                      log("checkout-7d9f-x2", '{"level":"info","msg":"starting"}'), log("checkout-7d9f-x2", fatal)])
    finding = only(found, "crash-loop")
    assert "exit code 1" in finding.cause and "not a valid duration" in finding.cause
    assert finding.evidence[0].text == fatal and finding.evidence[0].kind == "log"


def test_failed_job_container_is_explained_by_a_known_log_signature():
    oom = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 79.14 GiB"
    found = diagnose([pod("train-abcde", "ml", phase="Failed", containers=[container(terminated=("Error", 1))]),
                      log("train-abcde", "Traceback (most recent call last):", "ml"), log("train-abcde", oom, "ml"),
                      workload("Job", "train", "ml", {"failed": 1}),
                      event("Job", "train", "ml", "BackoffLimitExceeded", "Job has reached the specified backoff limit")])
    failed = only(found, "container-failed")
    assert "GPU memory" in failed.cause and "exit code 1" in failed.cause
    job = only(found, "job-failed")
    assert failed.id in job.related, "the job's failure links to the pod that explains it"
    assert not [f for f in found if f.rule == "cuda-oom"], "the signature is the pod finding's cause, not a second finding"


def test_image_pull_names_the_image_and_the_registrys_reason():
    image = "registry.example.com/data/etl:2.3.9-rc1"
    found = diagnose([pod("etl-1", "data", containers=[container(waiting=("ImagePullBackOff", f'Back-off pulling image "{image}"'))]),
                      event("Pod", "etl-1", "data", "Failed", f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                            f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": not found')])
    finding = only(found, "image-pull")
    assert image in finding.cause and "NotFound" in finding.cause
    found = diagnose([pod("etl-2", "data", containers=[container(waiting=("ErrImagePull", ""))]),
                      event("Pod", "etl-2", "data", "Failed", f'Failed to pull image "{image}": pull access denied, repository does '
                            "not exist or may require authorization: authorization failed")])
    assert "imagePullSecrets" in only(found, "image-pull").cause


def test_a_rate_limited_pull_names_the_registry_that_answered_and_a_fix_that_is_not_the_image_name():
    image = "docker.io/library/varnish:7.5.0"
    refused = (f'Failed to pull image "{image}": failed to pull and unpack image "{image}": failed to copy: '
               "httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/varnish/"
               "manifests/sha256:5c1b: 429 Too Many Requests - Server message: toomanyrequests: You have reached your "
               "pull rate limit.")
    found = diagnose([pod("cache-1", "tiles", containers=[container(waiting=("ErrImagePull", ""))]),
                      event("Pod", "cache-1", "tiles", "Failed", refused)])
    finding = only(found, "image-pull")
    assert "rate-limiting pulls (registry-1.docker.io answered)" in finding.cause
    assert "pull-through cache" in finding.fix and "image name" not in finding.fix


def test_create_container_config_error_quotes_the_missing_reference():
    found = diagnose([pod("api-2", containers=[container(waiting=("CreateContainerConfigError", 'configmap "api-config" not found'))])])
    assert 'configmap "api-config" not found' in only(found, "container-config").cause


def test_failing_init_container_holds_the_pod():
    found = diagnose([pod("db-0", "data", phase="Pending",
                          init=[container("migrate", waiting=("CrashLoopBackOff", "back-off"), last=("Error", 2), restarts=4)],
                          containers=[container(waiting=("PodInitializing", ""))]),
                      log("db-0", "ERROR: relation \"users\" already exists", "data", "migrate")])
    finding = only(found, "init-container-failed")
    assert "init container migrate" in finding.cause and "exit code 2" in finding.cause and "already exists" in finding.cause


def test_a_crash_quotes_the_headline_error_not_a_detail_line_of_its_report():
    # Flyway's failure report: a headline, then `Field : value` lines, the root cause in `Message`.
    report = ['ERROR: Migration V42__add_invoice_currency.sql failed', "-------------------------------------------------",
              "SQL State  : 42701", "Error Code : 0",
              'Message    : ERROR: column "currency" of relation "invoices" already exists']
    found = diagnose([pod("inv-1", "billing", phase="Pending",
                          init=[container("db-migrate", waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1))],
                          containers=[container(waiting=("PodInitializing", ""))]),
                      *(log("inv-1", line, "billing", "db-migrate") for line in report)])
    finding = only(found, "init-container-failed")
    assert [item.text for item in finding.evidence[:2]] == [report[0], report[-1]]


def test_unschedulable_pod_reads_the_schedulers_per_node_reasons():
    message = ("0/6 nodes are available: 3 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint "
               "{node.kubernetes.io/unreachable: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/6 "
               "nodes are available: 3 No preemption victims found for incoming pod.")
    found = diagnose([pod("pretrain-x", "ml", node=None, phase="Pending", gpus=8,
                          containers=[container(waiting=("ContainerCreating", ""))]),
                      event("Pod", "pretrain-x", "ml", "FailedScheduling", message)])
    finding = only(found, "unschedulable")
    assert "nvidia.com/gpu" in finding.cause and "nvidia.com/gpu=8" in finding.cause and "0 of 6 nodes fit" in finding.cause
    assert "GPU" in finding.terms and "Insufficient" not in finding.terms, "saying 'insufficient CPU' must not pass"


def test_pending_pod_on_an_unbound_claim_links_to_the_claims_provisioning_failure():
    found = diagnose([pod("pg-0", "data", node=None, phase="Pending", claims=("data-pg-0",)),
                      event("Pod", "pg-0", "data", "FailedScheduling", "0/5 nodes are available: pod has unbound immediate "
                            "PersistentVolumeClaims. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."),
                      claim("data-pg-0", "data"),
                      event("PersistentVolumeClaim", "data-pg-0", "data", "ProvisioningFailed",
                            'storageclass.storage.k8s.io "fast-ssd" not found')])
    pending, unbound = only(found, "unschedulable"), only(found, "pvc-unbound")
    assert "data-pg-0 is not bound" in pending.cause and '"fast-ssd" not found' in unbound.cause
    assert unbound.id in pending.related


def test_readiness_probe_failure_is_explained_by_the_upstream_error_in_the_log():
    found = diagnose([pod("gw-1", "inference", containers=[container(ready=False)]),
                      event("Pod", "gw-1", "inference", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=212),
                      log("gw-1", '{"level":"error","msg":"upstream vllm.inference.svc:8000 unavailable: connection refused"}', "inference")])
    finding = only(found, "readiness-probe")
    assert "503" in finding.cause and "no traffic" in finding.cause and "connection refused" in finding.cause


def test_liveness_probe_kills_are_their_own_finding():
    found = diagnose([pod("api-3", containers=[container(restarts=5, ready=True)]),
                      event("Pod", "api-3", "web", "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.5:8080/healthz\": context deadline exceeded"),
                      event("Pod", "api-3", "web", "Killing", "Container app failed liveness probe, will be restarted",
                            warning=False),  # a Normal event, as the kubelet writes it
                      event("Pod", "api-3", "web", "Killing", "Stopping container app", warning=False)])
    finding = only(found, "liveness-probe")
    assert "restarts the container" in finding.cause and len(finding.evidence) == 2
    assert finding.severity == "critical", "a probe that kills the container is graver than one that fails only"
    assert not [f for f in found if "Stopping container" in f.cause], "a container stopped on deletion is no finding"
    unkilled = diagnose([pod("api-4", containers=[container(ready=False)]),
                         event("Pod", "api-4", "web", "Unhealthy", 'Readiness probe failed: HTTP probe failed with statuscode: 503')])
    assert only(unkilled, "readiness-probe").severity == "warning"


def test_evicted_pod_links_to_the_node_under_memory_pressure():
    found = diagnose([node("cpu-0", pressure={"MemoryPressure": ("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")}),
                      event("Node", "cpu-0", None, "EvictionThresholdMet", "Attempting to reclaim memory", host="cpu-0"),
                      pod("consumer-1", "data", node="cpu-0", phase="Failed", reason="Evicted",
                          message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 61244Ki.",
                          containers=[container(terminated=("ContainerStatusUnknown", 137))])])
    pressure, evicted = only(found, "node-pressure"), only(found, "pod-evicted")
    assert "MemoryPressure" in pressure.cause and "low on resource: memory" in evicted.cause
    assert pressure.id in evicted.related
    assert not [f for f in found if f.rule in ("container-failed", "event-EvictionThresholdMet")]


def test_node_problem_detector_conditions_are_findings():
    message = "kernel: INFO: task docker:20744 blocked for more than 120 seconds."
    found = diagnose([node("cpu-7", pressure={"KernelDeadlock": ("True", "DockerHung", message)})])
    finding = only(found, "node-condition")
    assert "KernelDeadlock" in finding.cause and "DockerHung" in finding.cause


def test_node_not_ready_and_cordoned():
    found = diagnose([node("gpu-3", ready="Unknown", reason="NodeStatusUnknown"), node("gpu-4", cordoned=True),
                      event("Node", "gpu-3", None, "NodeNotReady", "Node gpu-3 status is now: NodeNotReady")])
    assert "NotReady" in only(found, "node-not-ready").cause
    assert only(found, "node-cordoned").name == "gpu-4"


def test_a_not_ready_node_is_explained_by_the_kernels_hung_tasks_the_runtime_first():
    """node-problem-detector's kernel monitor turns the kernel's hung-task lines into TaskHung events; a hung
    containerd stops the kubelet's PLEG relisting, so the node goes NotReady with the kubelet still running."""
    pleg = "PLEG is not healthy: pleg was last seen active 30m42.118s ago; threshold is 3m0s"
    journal = "INFO: task jbd2/nvme0n1p1-8:412 blocked for more than 120 seconds."
    runtime = "INFO: task containerd:1187 blocked for more than 120 seconds."
    found = diagnose([node("cpu-7", ready="False", reason="KubeletNotReady", message=pleg),
                      event("Node", "cpu-7", None, "TaskHung", journal, count=11, host="cpu-7"),
                      event("Node", "cpu-7", None, "TaskHung", runtime, count=9, host="cpu-7")])
    finding = only(found, "node-not-ready")
    assert pleg in finding.cause and "blocked for more than 120 seconds: containerd, jbd2/nvme0n1p1-8" in finding.cause
    assert "container runtime is hung" in finding.cause
    assert [item.text for item in finding.evidence[-2:]] == [f"TaskHung: {runtime}", f"TaskHung: {journal}"]
    assert not [f for f in found if f.rule in ("hung-task", "event-TaskHung")], "explained by the NotReady finding"


def test_the_kernel_logs_hung_task_line_explains_a_not_ready_node_too():
    kernel = "[183321.442107] INFO: task containerd:1187 blocked for more than 120 seconds."
    found = diagnose([node("cpu-7", ready="False", reason="KubeletNotReady"),
                      log("", kernel, "", "kernel", "cpu-7")])
    assert "blocked for more than 120 seconds: containerd" in only(found, "node-not-ready").cause


def test_hung_tasks_on_a_ready_node_are_a_finding_of_their_own():
    line = "INFO: task postgres:20931 blocked for more than 120 seconds."
    found = diagnose([node("db-2"), event("Node", "db-2", None, "TaskHung", line, count=4, host="db-2")])
    assert "uninterruptible I/O" in only(found, "hung-task").cause and "postgres:20931" in only(found, "hung-task").cause


def test_xid_from_the_device_plugin_and_the_kernel_land_on_the_gpus_node():
    plugin = ("W0314 10:50:00.412000       1 health.go:185] XidCriticalError: Xid=79 on Device=GPU-061ae8d1-3 "
              "(GPU has fallen off the bus); marking device as unhealthy.")
    kernel = "NVRM: Xid (PCI:0000:3b:00): 48, pid=1234, name=python, An uncorrectable double bit error was detected"
    found = diagnose([node("gpu-h100-0", gpus=(7, 8)),
                      log("nvidia-device-plugin-x", plugin, "kube-system", "nvidia-device-plugin", "gpu-h100-0"),
                      make_kernel_record(kernel, "gpu-a100-1")])
    xids = {f.name: f for f in found if f.rule == "gpu-xid"}
    assert "Xid 79" in xids["gpu-h100-0"].cause and "fallen off the bus" in xids["gpu-h100-0"].cause
    assert xids["gpu-h100-0"].gpu == "GPU-061ae8d1-3" and xids["gpu-h100-0"].severity == "critical"
    assert "double-bit ECC" in xids["gpu-a100-1"].cause
    withheld = only(found, "gpu-withheld")
    assert "7 of its 8" in withheld.cause and xids["gpu-h100-0"].id in withheld.related


def test_gpu_node_that_registers_no_gpus_is_explained_by_the_driver_pod_failing_on_it():
    # AMD's GPU operator labels the node from PCI ids; the driver's kernel module is missing for a newer kernel.
    labels = {"amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM", "amd.com/gpu.vram": "192G"}
    modprobe = "modprobe: FATAL: Module amdgpu not found in directory /lib/modules/6.8.0-1015-aws"
    pending = ("0/3 nodes are available: 1 Insufficient amd.com/gpu, 2 node(s) didn't match Pod's node "
               "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    found = diagnose([node("mi300x-1", labels=labels), node("mi300x-0", gpus=(8, 8)),
                      log("driver-loader-x", modprobe, "gpu-operator", "loader", "mi300x-1"),
                      pod("fold-1", "sim", node=None, phase="Pending"),
                      event("Pod", "fold-1", "sim", "FailedScheduling", pending, count=12)])
    missing = only(found, "gpu-missing")
    assert missing.name == "mi300x-1" and "registers no amd.com/gpu" in missing.cause
    assert "driver" in missing.cause and "MI300X" in missing.cause
    module = only(found, "kernel-module-missing")
    assert module.id in missing.related and "not built for the node's running kernel" in module.cause
    assert missing.id in only(found, "unschedulable").related
    assert not [f for f in found if f.rule == "gpu-missing" and f.name == "mi300x-0"]


def test_a_drain_blocked_by_a_disruption_budget_explains_the_cordoned_node():
    line = ('error when evicting pods/"zookeeper-1" -n "streaming" (will retry after 5s): Cannot evict pod as it would '
            "violate the pod's disruption budget.")
    found = diagnose([node("cpu-3", cordoned=True), node("cpu-4", cordoned=True),
                      log("kured-abc", line, "kube-system", "kured", "cpu-3")])
    blocked = only(found, "eviction-blocked")
    assert "PodDisruptionBudget" in blocked.cause and "zookeeper-1" in blocked.evidence[0].text
    cordoned = {f.name: f for f in found if f.rule == "node-cordoned"}
    assert blocked.id in cordoned["cpu-3"].related and blocked.id not in cordoned["cpu-4"].related


def test_known_event_messages_get_their_meaning():
    message = ('Multi-Attach error for volume "pvc-6473b904" Volume is already exclusively attached to one node and '
               "can't be attached to another")
    found = diagnose([event("Pod", "mq-1", "messaging", "FailedAttachVolume", message, count=9)])
    finding = only(found, "multi-attach")
    assert "another node" in finding.meaning and "ReadWriteOnce" in finding.meaning
    assert message in finding.cause and finding.severity == "warning"


def test_a_full_disk_names_the_pods_volume_claims():
    found = diagnose([pod("db-0", "orders", claims=["data-db-0"]),
                      log("db-0", 'FATAL: could not write to file "pg_wal/xlogtemp.42": No space left on device', "orders")])
    assert only(found, "disk-full").cause.endswith("; its volume claims: data-db-0")


def test_pods_of_one_namespace_failing_the_same_way_are_related():
    full = 'ERROR create order failed: pq: could not extend file "base/16384/24673.3": No space left on device'
    found = diagnose([log("orders-api-1", full, "orders"), log("orders-db-0", "FATAL: could not write to file "
                      '"pg_wal/xlogtemp.42": No space left on device', "orders"), log("other-0", full, "web")])
    by_name = {f.name: f for f in found if f.rule == "disk-full"}
    assert by_name["orders-db-0"].id in by_name["orders-api-1"].related
    assert by_name["other-0"].id not in by_name["orders-api-1"].related


def make_kernel_record(line: str, node_name: str) -> dict:
    from kubetrainer.records import make_record

    return make_record("log", "2026-03-14T10:00:00Z", "agent", line, node=node_name)


def test_gpu_telemetry_xid_and_ecc():
    from kubetrainer.records import make_record

    record = make_record("gpu", "2026-03-14T10:00:00Z", "agent", "gpu 2", node="gpu-9", labels={"gpu": "2"},
                         metrics={"DCGM_FI_DEV_XID_ERRORS": 79, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": 3})
    found = diagnose([record])
    assert "Xid 79" in only(found, "gpu-xid").cause and "3 uncorrectable ECC" in only(found, "gpu-ecc").cause


def test_quota_exceeded_on_a_replica_set():
    message = ('pods "api-7d9f-abcde" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=2, '
               "used: requests.cpu=8, limited: requests.cpu=8")
    found = diagnose([event("ReplicaSet", "api-7d9f", "shop", "FailedCreate", f"Error creating: {message}")])
    finding = only(found, "quota-exceeded")
    assert "compute-quota" in finding.cause and "requested requests.cpu=2" in finding.cause


def test_hpa_without_metrics():
    found = diagnose([event("HorizontalPodAutoscaler", "api", "shop", "FailedGetResourceMetric",
                            "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics "
                            "from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)")])
    finding = only(found, "hpa-metrics")
    assert "cannot read its metrics" in finding.cause and "metrics.k8s.io" in finding.cause


def test_deployment_short_of_replicas_links_to_its_pods():
    found = diagnose([workload("Deployment", "api", "web", {"readyReplicas": 1}, {"replicas": 3}),
                      pod("api-7d9f-x2lq", containers=[container(waiting=("CrashLoopBackOff", ""), last=("Error", 1))])])
    short = only(found, "replicas-short")
    assert "1 of 3" in short.cause and only(found, "crash-loop").id in short.related


def test_log_signatures_in_running_containers():
    lines = {
        "rbac-forbidden": 'E0314 10:00:00.000000 1 reflector.go:147] Failed to watch *v1.Pod: pods is forbidden: User '
                          '"system:serviceaccount:ops:reporter" cannot list resource "pods" in API group "" at the cluster scope',
        "dns-failure": "dial tcp: lookup smtp.relay.svc.cluster.local on 10.96.0.10:53: no such host",
        "x509-expired": "x509: certificate has expired or is not yet valid: current time 2026-03-14T11:35:00Z is after 2026-03-14T00:00:00Z",
        "x509-not-yet-valid": "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time "
                              "2026-03-14T11:35:00Z is before 2026-03-15T09:00:00Z",
        "nccl-failure": "[rank3]:[E314 11:00:00] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=4081, "
                        "OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600021 milliseconds before timing out.",
        "network-timeout": "ERROR payments: POST http://ledger.finance.svc:8080/entries failed: dial tcp 10.96.4.2:8080: i/o timeout",
        "mig-error": "time=\"2026-03-14T10:00:00Z\" level=error msg=\"Error applying MIG configuration: invalid MIG config 'all-3g.40gb' for GPU 0\" nvidia-mig-manager failed",
        "disk-full": "ERROR writer: write /data/segment-0042: no space left on device",
        "db-auth": 'FATAL:  password authentication failed for user "orders"',
        "go-panic": "panic: runtime error: invalid memory address or nil pointer dereference",
        "jvm-oom": "Terminating due to java.lang.OutOfMemoryError: Java heap space",
        "tls-peer-rejected": "2026/03/14 09:01:00 http: TLS handshake error from 10.244.5.230:35323: remote error: tls: "
                             "bad certificate",
        "x509-unknown-authority": 'Post "https://api.partner.example/v1": tls: failed to verify certificate: x509: certificate '
                                  "signed by unknown authority",
    }
    for rule, line in lines.items():
        found = diagnose([log(f"pod-{rule}", line)])
        rules = {f.rule for f in found}
        assert rule in rules, (rule, rules)
    assert "x509-expired" not in {f.rule for f in diagnose([log("p", lines["x509-not-yet-valid"])])}
    assert "cuda-oom" not in {f.rule for f in diagnose([log("p", lines["jvm-oom"])])}, "a JVM heap is not a GPU"


def test_a_crash_is_explained_with_the_warning_logged_before_it():
    lines = ['{"level":"info","caller":"main.go:61","msg":"starting token-service"}',
             '{"level":"warn","caller":"keys/rotator.go:41","msg":"signing key source not configured, key rotation disabled"}',
             "panic: runtime error: invalid memory address or nil pointer dereference",
             "goroutine 1 [running]:", "\t/src/internal/keys/rotator.go:74 +0x14"]
    found = diagnose([pod("token-1", "identity", containers=[container(waiting=("CrashLoopBackOff", "back-off 5m0s"),
                                                                       last=("Error", 2), restarts=9)]),
                      *(log("token-1", line, "identity") for line in lines)])
    crash = only(found, "crash-loop")
    assert "panicked" in crash.cause and 'after "signing key source not configured' in crash.cause
    assert any("keys/rotator.go:41" in item.text for item in crash.evidence)


def test_errors_without_a_known_signature_are_quoted_and_routine_noise_is_not_a_finding():
    found = diagnose([log("cm-1", 'E0314 07:00:00.000000 1 controller.go:167] "re-queuing item due to error processing" '
                                  'err="failed to renew certificate web/shop-tls: acme: 403 unauthorized"', "cert-manager"),
                      log("web-1", "GET /healthz 200 OK"), log("web-1", "INFO served 120 requests")])
    finding = only(found, "log-errors")
    assert "failed to renew certificate" in finding.cause and finding.namespace == "cert-manager"
    assert len(found) == 1


def test_errors_quote_each_distinct_message_not_only_the_last():
    lines = ["ERROR sync: upstream rejected batch 17: schema version 4 not supported", "ERROR sync: giving up after 3 retries",
             "ERROR sync: upstream rejected batch 18: schema version 4 not supported", "ERROR sync: giving up after 3 retries"]
    finding = only(diagnose([log("sync-1", line) for line in lines]), "log-errors")
    quoted = [item.text for item in finding.evidence]
    assert quoted[0] == lines[0] and lines[1] in quoted and finding.count == 4


def test_unexplained_warning_events_are_kept():
    hook = ("Exec lifecycle hook ([/bin/sh -c /app/warm-cache.sh]) for Container \"app\" in Pod \"api-9_web(5d3c)\" "
            "failed - error: command '/bin/sh -c /app/warm-cache.sh' exited with 1: , message: \"\"")
    found = diagnose([event("Pod", "api-9", "web", "FailedPostStartHook", hook, count=5)])
    finding = only(found, "event-FailedPostStartHook")
    assert "warm-cache.sh" in finding.cause and finding.severity == "warning"


def test_a_volume_whose_secret_is_missing_holds_the_pod_and_says_which():
    found = diagnose([event("Pod", "api-9", "web", "FailedMount", 'MountVolume.SetUp failed for volume "certs" : secret "api-tls" not found', count=5)])
    finding = only(found, "volume-source-missing")
    assert 'secret "api-tls" not found' in finding.cause and "ContainerCreating" in finding.cause
    assert finding.severity == "critical"


def test_a_specific_signature_wins_over_the_generic_symptom_on_its_line():
    line = ('Internal error occurred: failed calling webhook "validate.policy.example.com": failed to call webhook: Post '
            '"https://policy-webhook.policy.svc:443/validate?timeout=10s": dial tcp 10.96.0.5:443: connect: connection refused')
    assert [f.rule for f in diagnose([log("app-1", line)])] == ["webhook-unavailable"]
    assert [f.rule for f in diagnose([log("app-1", "dial tcp 10.96.0.5:443: connect: connection refused")])] == [
        "connection-refused"]


def test_the_same_problem_seen_twice_is_one_finding_with_a_count():
    line = "dial tcp: lookup db.data.svc.cluster.local on 10.96.0.10:53: no such host"
    found = diagnose([log("w-1", line, ts=f"2026-03-14T10:0{i}:00Z") for i in range(5)])
    finding = only(found, "dns-failure")
    assert finding.count == 5 and "(5 times)" in finding.cause and len(finding.evidence) == 1


def test_finding_round_trips_through_json():
    (finding,) = diagnose([log("w-1", "dial tcp: lookup x.svc on 10.96.0.10:53: no such host")])
    again = Finding.from_json(finding.to_json())
    assert again.to_json() == finding.to_json() and again.id == finding.id


def test_saved_facts_give_the_same_findings_after_loading(tmp_path):
    from kubetrainer.diagnose.collect import Collector
    from kubetrainer.diagnose.engine import findings_of
    from kubetrainer.diagnose.state import load_collector, save_collector

    plugin = "W0314 10:50:00.412000 1 health.go:185] XidCriticalError: Xid=79 on Device=GPU-061ae8d1-3; marking device unhealthy."
    records = [node("gpu-h100-0", gpus=(7, 8)), log("nvidia-device-plugin-x", plugin, "kube-system", "plugin", "gpu-h100-0"),
               pod("api-1", containers=[container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1), restarts=4)]),
               log("api-1", '{"level":"warn","msg":"cache directory missing, using /tmp"}'),
               log("api-1", "ERROR boot: dial tcp: lookup db.data.svc.cluster.local on 10.96.0.10:53: no such host"),
               event("Pod", "api-1", "web", "BackOff", "Back-off restarting failed container app", count=7),
               log("ledger-0", "WARN  [ledger] fsync of /data/snap-27.tmp took 41s, disk may be failing", "finance"),
               log("ledger-0", "ERROR [ledger] snapshot aborted", "finance"),
               log("api-1", "INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"),
               event("Deployment", "api", "web", "ScalingReplicaSet", "Scaled up replica set api-5f to 3 from 1",
                     warning=False)]
    collector = Collector().add_all(records)
    save_collector(tmp_path, collector)
    loaded = load_collector(tmp_path)
    assert loaded is not None and loaded.previous == collector.previous
    assert loaded.opening == collector.opening != {}
    assert list(loaded.changes) == list(collector.changes) != []
    assert loaded.last == collector.last != {}
    assert loaded.objects[("Pod", "web", "api-1")].logs["app"].listening == collector.objects[("Pod", "web", "api-1")].logs["app"].listening != {}
    assert any("fsync of /data/snap-27.tmp took 41s" in f.cause for f in findings_of(loaded))
    assert [f.to_json() for f in findings_of(loaded)] == [f.to_json() for f in findings_of(collector)]
    assert load_collector(tmp_path / "absent") is None


def test_structured_log_lines_are_read_with_the_error_they_carry():
    """pino writes `"level":50` and the cause in `err.message`; zap and logrus write `error` as a string."""
    from kubetrainer.diagnose.collect import readable

    pino = ('{"level":50,"time":1773479000699,"pid":1,"msg":"payout batch rejected","err":{"type":"HTTPError",'
            '"message":"bank gateway answered 422: IBAN checksum invalid for creditor 7",'
            '"stack":"HTTPError: bank gateway answered 422\\n    at post (/app/node_modules/got/dist/source/index.js:12:3)"}}')
    zap = ('{"level":"error","ts":1773479000.69,"caller":"sync/worker.go:88","msg":"sync failed",'
           '"error":"dial tcp 10.0.3.7:5432: connect: connection refused"}')
    assert readable(zap) == "sync failed: dial tcp 10.0.3.7:5432: connect: connection refused"
    assert readable('{"level":"info","msg":"started"}') == "started"
    finding = only(diagnose([log("payouts-1", pino, "payouts")] * 3), "log-errors")
    assert 'the last: "payout batch rejected: bank gateway answered 422: IBAN checksum invalid' in finding.cause


def test_a_generic_error_is_explained_by_the_warning_just_before_it():
    """Programs often log the specific failure as a warning, then a generic error line."""
    lines = ["2026-03-14 09:00:00,001 INFO  [ledger] ready, 12 partitions",
             "2026-03-14 09:03:12,006 WARN  [ledger] snapshot writer: cannot open /data/ledger/snap-27.tmp for writing: "
             "Permission denied",
             "2026-03-14 09:03:12,105 ERROR [ledger] snapshot aborted"]
    finding = only(diagnose([log("ledger-0", line, "finance", "ledger") for line in lines]), "log-errors")
    assert finding.cause.endswith(f'the last: "{lines[2]}", after "{lines[1]}"')
    assert finding.evidence[0].text == lines[1]
    ordinary = only(diagnose([log("ledger-0", lines[0], "finance", "ledger"), log("ledger-0", lines[2], "finance", "ledger")]),
                    "log-errors")
    assert "after" not in ordinary.cause, "a routine line before an error is no explanation"


# (rule, a line as the real program prints it)
SIGNATURE_LINES = [
    ("gpu-not-visible", "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU "
                        "and installed a driver from http://www.nvidia.com/Download/index.aspx"),
    ("gpu-not-visible", "RuntimeError: No CUDA GPUs are available"),
    ("gpu-not-visible", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that "
                        "the latest NVIDIA driver is installed and running."),
    ("nvml-mismatch", "E0314 11:57:47.966427       1 main.go:132] error starting plugins: error creating plugin manager: "
                      "unable to create plugin manager: nvml init failed: ERROR_LIB_RM_VERSION_MISMATCH"),
    ("nvml-mismatch", "Failed to initialize NVML: Driver/library version mismatch"),
    ("redis-misconf", "ReplyError: MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
                      "persist to disk. Commands that may modify the data set are disabled"),
    ("redis-bgsave", "1:M 14 Mar 2026 09:03:12.105 # Write error saving DB on disk: No space left on device"),
    ("kafka-poll-timeout", "[Consumer clientId=shipments-1, groupId=shipments] Member consumer-shipments-1-4e1b sending "
                           "LeaveGroup request to coordinator kafka-0:9092 (id: 2147483647 rack: null) due to consumer "
                           "poll timeout has expired. This means the time between subsequent calls to poll() was longer "
                           "than the configured max.poll.interval.ms, which typically implies that the poll loop is "
                           "spending too much time processing messages."),
    ("kafka-poll-timeout", "org.apache.kafka.clients.consumer.CommitFailedException: Offset commit cannot be completed "
                           "since the consumer is not part of an active group for auto partition assignment; it is likely "
                           "that the consumer was kicked out of the group."),
    ("dataloader-worker", "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient "
                          "shared memory (shm)."),
    ("dataloader-worker", "RuntimeError: DataLoader worker (pid 4242) is killed by signal: Bus error. It is possible "
                          "that dataloader's workers are out of shared memory. Please try to raise your shared memory limit."),
    ("tensorrt-engine", "E0314 09:00:00.000000 1 logging.cc:43] 6: The engine plan file is generated on an incompatible "
                        "device, expecting compute 8.6 got compute 9.0, please rebuild."),
    ("tensorrt-engine", "E0314 09:00:00.000000 1 logging.cc:43] 1: [stdArchiveReader.cpp::StdArchiveReader::40] Error "
                        "Code 1: Serialization (Serialization assertion stdVersionRead == serializationVersion failed."
                        "Version tag does not match. Note: Current Version: 232, Serialized Engine Version: 213)"),
    ("exec-format", "exec /usr/local/bin/recs-api: exec format error"),
    ("db-connections-exhausted", '2026-03-14 10:20:01.112 UTC [4012] FATAL:  sorry, too many clients already'),
    ("db-connections-exhausted", "FATAL:  remaining connection slots are reserved for non-replication superuser "
                                 "connections"),
    ("nginx-big-header", '2026/03/14 09:12:00 [error] 31#31: *8812 upstream sent too big header while reading response '
                         'header from upstream, client: 10.0.0.7, server: sso.example.com, request: "GET /callback '
                         'HTTP/1.1", upstream: "http://10.0.4.12:8080/callback"'),
    ("csi-driver-missing", 'MountVolume.MountDevice failed for volume "pvc-8a1c" : kubernetes.io/csi: attacher.MountDevice '
                           'failed to create newCsiDriverClient: driver name ebs.csi.aws.com not found in the list of '
                           'registered CSI drivers'),
    ("volume-attach", 'AttachVolume.Attach failed for volume "pvc-1f" : rpc error: code = Internal desc = Could not '
                      'attach volume "vol-0a1" to node "i-0b2": VolumeInUse'),
    ("sandbox-network", 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for '
                        'sandbox "4f1c": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an '
                        'IP address to container'),
    ("webhook-denied", 'Error creating: admission webhook "validation.gatekeeper.sh" denied the request: [must-have-owner] '
                       'you must provide labels: {"owner"}'),
    ("pod-security", 'Error creating: pods "api-7c9-x2" is forbidden: violates PodSecurity "restricted:latest": '
                     'allowPrivilegeEscalation != false (container "app" must set '
                     'securityContext.allowPrivilegeEscalation=false)'),
    ("run-as-root", "Error: container has runAsNonRoot and image will run as root (pod: \"api-1_web(1f)\", container: app)"),
    ("exec-not-found", 'Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: '
                       'runc create failed: unable to start container process: exec: "gunicorn": executable file not '
                       'found in $PATH: unknown'),
    ("read-only-fs", "OSError: [Errno 30] Read-only file system: '/app/.cache/huggingface'"),
    ("permission-denied", "PermissionError: [Errno 13] Permission denied: '/data/checkpoints/step-100'"),
    ("address-in-use", "listen tcp :9100: bind: address already in use"),
    ("python-module-missing", "ModuleNotFoundError: No module named 'flash_attn'"),
    ("db-missing-object", '2026-03-14 10:00:00.000 UTC [77] ERROR:  relation "invoice_lines" does not exist at character 15'),
    ("rendezvous-timeout", "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError"),
    ("device-admission", "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: 8, "
                         "Available: 7, which is unexpected"),
    ("nvidia-container-cli", "nvidia-container-cli: initialization error: nvml error: driver not loaded: unknown"),
    ("nvml-unknown", "Failed to initialize NVML: Unknown Error"),
    ("gpu-off-bus", "NVRM: GPU at PCI:0000:3b:00: GPU-6a1f3c2e-77e1 has fallen off the bus."),
    ("service-no-endpoints", 'W0314 09:12:01.123456       7 controller.go:1214] Service "shop/pricing" does not have any '
                             'active Endpoint.'),
    ("no-healthy-upstream", '[2026-03-14T10:00:00.000Z] "GET /quote HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 0 - '
                            '"-" "curl/8.5" "1f" "risk:8000" "-" outbound|8000||risk.svc - no healthy upstream'),
    ("leader-election-lost", 'E0314 10:00:00.000000 1 leaderelection.go:369] Failed to update lock: Put "https://10.96.0.1'
                             ':443/apis/coordination.k8s.io/v1/namespaces/ops/leases/op": context deadline exceeded; '
                             'failed to renew lease ops/op: timed out waiting for the condition'),
    ("pleg-unhealthy", "E0314 10:00:00.000000 812 kubelet.go:2412] \"Skipping pod synchronization\" err=\"PLEG is not "
                       "healthy: pleg was last seen active 3m12s ago; threshold is 3m0s\""),
    ("etcd-slow", 'E0314 10:00:00.000000 1 status.go:71] apiserver received an error that is not an metav1.Status: '
                  'rpctypes.EtcdError{code:0xe, desc:"etcdserver: request timed out"}'),
    ("etcd-slow-disk", '{"level":"warn","ts":"2026-03-14T11:21:40.118Z","caller":"wal/wal.go:805","msg":"slow '
                       'fdatasync","took":"2.418620145s","expected-duration":"1s"}'),
    ("etcd-slow-disk", '{"level":"warn","ts":"2026-03-14T11:22:02.506Z","caller":"etcdserver/raft.go:416","msg":"leader '
                       'failed to send out heartbeat on time; took too long, leader is overloaded likely from slow '
                       'disk","to":"8e9e05c52164694d","heartbeat-interval":"100ms","expected-duration":"200ms"}'),
    ("gpu-thermal-slowdown", "            HW Thermal Slowdown               : Active"),
    ("gpu-thermal-slowdown", "2026-03-14 10:45:52,118 WARNING eta.gpumon: cuda:5 clocks reduced: sm 1095 MHz (max "
                             "1980 MHz), reasons=HW_SLOWDOWN,HW_THERMAL_SLOWDOWN, temp 89 C"),
    ("es-mapping", '[2026/03/14 00:02:25] [error] [output:es:es.0] error: Output {"index":{"status":400,"error":{"type":'
                   '"mapper_parsing_exception","reason":"Could not dynamically add mapping for field '
                   '[app.kubernetes.io/name]"}}}'),
    ("ingress-tls-secret-missing", 'W0314 10:00:00.000000 7 backend_ssl.go:47] Error obtaining X.509 certificate: '
                                   'unexpected error creating SSL Cert: local SSL certificate shop/shop-tls was not found'),
    ("ingress-tls-wrong-host", 'W0314 09:00:03.230351 7 controller.go:1412] SSL certificate "web/portal-tls" does not '
                               'contain a Common Name or Subject Alternative Name for server "track.example.com": x509: '
                               'certificate is valid for portal.example.com, not track.example.com'),
    ("x509-hostname", "tls: failed to verify certificate: x509: certificate is valid for api.internal, not "
                      "api.example.com"),
    ("api-unauthorized", 'E0314 10:00:00.000000 1 reflector.go:147] failed to list *v1.ConfigMap: Unauthorized'),
    ("thread-limit", "[12.001s][warning][os,thread] Failed to start thread \"Unknown thread\" - pthread_create failed "
                     "(EAGAIN) for attributes: stacksize: 1024k, guardsize: 0k, detached."),
    ("thread-limit", 'Exception in thread "pool-3-thread-977" java.lang.OutOfMemoryError: unable to create native thread: '
                     "possibly out of memory or process/resource limits reached"),
    ("vllm-kv-cache", "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can "
                      "be stored in KV cache (43984). Try increasing `gpu_memory_utilization` or decreasing "
                      "`max_model_len` when initializing the engine."),
    ("client-throttling", "I0314 11:43:53.931740 1 request.go:697] Waited for 9.352578s due to client-side throttling, not "
                          "priority and fairness, request: PATCH:https://10.96.0.1:443/apis/coordination.k8s.io/v1/"
                          "namespaces/ops/leases/op"),
    ("privileged-port", "listen tcp :80: bind: permission denied"),
    ("privileged-port", 'failed to bind 0.0.0.0:80: Os { code: 13, kind: PermissionDenied, message: "Permission denied" }'),
    ("privileged-port", "2026/03/14 10:00:00 [emerg] 1#1: bind() to 0.0.0.0:80 failed (13: Permission denied)"),
    ("privileged-port", "Error: listen EACCES: permission denied 0.0.0.0:443"),
    ("privileged-port", "ERROR:    [Errno 13] error while attempting to bind on address ('0.0.0.0', 80): permission denied"),
    ("dataprotection-keys", "      ---> System.Security.Cryptography.CryptographicException: The key "
                            "{fe8b7972-2c11-426c-8cd4-cf06adfdc3e4} was not found in the key ring. For more information "
                            "go to https://aka.ms/aspnet/dataprotectionwarning"),
    ("dataprotection-keys", "      Storing keys in a directory '/home/app/.aspnet/DataProtection-Keys' that may not be "
                            "persisted outside of the container. Protected data will be unavailable when container is "
                            "destroyed. For more information go to https://aka.ms/aspnet/dataprotectionwarning"),
    ("pg-wal-removed", "2026-03-14 11:59:58.077 UTC [3804] FATAL:  could not receive data from WAL stream: ERROR:  "
                       "requested WAL segment 000000010000002A0000003F has already been removed"),
    ("pg-checkpoints-frequent", "2026-03-14 11:40:12.001 UTC [61] LOG:  checkpoints are occurring too frequently (9 "
                                "seconds apart)"),
    ("vpc-cni-ip-exhaustion", '{"level":"error","ts":"2026-03-14T10:41:07.221Z","caller":"ipamd/ipamd.go:874","msg":'
                              '"Failed to increase pool size due to not able to allocate ENI AllocENI: failed to create '
                              'ENI: failed to create network interface: InsufficientFreeAddressesInSubnet: The specified '
                              'subnet does not have enough free addresses to satisfy the request."}'),
    # pgjdbc, asyncpg and Rails' pg behind a transaction-pooling PgBouncer
    ("pg-prepared-statement-pooler", 'org.postgresql.util.PSQLException: ERROR: prepared statement "S_1" does not exist'),
    ("pg-prepared-statement-pooler", "asyncpg.exceptions.InvalidSQLStatementNameError: prepared statement "
                                     '"__asyncpg_stmt_1f__" does not exist'),
    ("pg-prepared-statement-pooler", 'PG::DuplicatePstatement: ERROR:  prepared statement "a1" already exists'),
    ("hung-task", "[183321.442107] INFO: task postgres:20931 blocked for more than 120 seconds."),
    # Elasticsearch 8's ECS JSON (DiskThresholdMonitor), and a Python writer's bulk error
    ("es-flood-stage", '{"@timestamp":"2026-03-14T10:40:21.512Z", "log.level": "WARN", "message":"flood stage disk '
                       "watermark [95%] exceeded on [Mzq3cB7oQ5SBnZSYlJvXlA][es-data-2][/usr/share/elasticsearch/data] "
                       'free: 4.1gb[4.1%], all indices on this node will be marked read-only", "log.logger":"org.elastic'
                       'search.cluster.routing.allocation.DiskThresholdMonitor"}'),
    ("es-flood-stage", "elasticsearch.helpers.BulkIndexError: 500 document(s) failed to index: index [orders] blocked "
                       "by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has "
                       "read-only-allow-delete block];"),
    ("es-disk-watermark", "[2026-03-14T10:21:00,101][WARN ][o.e.c.r.a.DiskThresholdMonitor] [es-master-0] high disk "
                          "watermark [90%] exceeded on [Mzq3cB7oQ5SBnZSYlJvXlA][es-data-2][/usr/share/elasticsearch/"
                          "data] free: 9.8gb[9.8%], shards will be relocated away from this node"),
    ("es-circuit-breaker", "ERROR search failed: circuit_breaking_exception: [parent] Data too large, data for "
                           "[<http_request>] would be [1031798784/984mb], which is larger than the limit of "
                           "[1020054732/972.7mb]"),
    # mongod 7's JSON log, and the Node.js driver's error
    ("mongo-no-primary", '{"t":{"$date":"2026-03-14T11:02:11.412+00:00"},"s":"I",  "c":"ELECTION", "id":4615653, '
                         '"ctx":"ReplCoord-3","msg":"Not starting an election, since we are not electable","attr":'
                         '{"reason":"Not standing for election because I cannot see a majority (mask 0x1)"}}'),
    ("mongo-server-selection", "MongoServerSelectionError: Server selection timed out after 30000 ms"),
    ("rabbitmq-alarm", "2026-03-14 11:34:02.118233+00:00 [warning] <0.495.0> memory resource limit alarm set on node "
                       "'rabbit@mq-0.mq-headless.pay.svc.cluster.local'."),
    ("rabbitmq-blocked", '{"level":"warn","ts":1773488046.8,"msg":"connection blocked by broker","reason":"low on '
                         'memory"}'),
    ("etcd-nospace", "patroni.dcs.etcd3.Unknown: <Unknown error: 'etcdserver: mvcc: database space exceeded', code: 8>"),
    ("patroni-demoted", "2026-03-14 10:12:04,998 INFO: demoted self because failed to update leader lock in DCS"),
    ("pg-read-only", "psycopg.errors.ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction"),
    ("vault-sealed", "* Vault is sealed"),
    ("node-heap-oom", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"),
    ("api-kind-unknown", 'Error: UPGRADE FAILED: unable to build kubernetes objects from new release manifest: resource '
                         'mapping not found for name: "api" namespace: "" from "": no matches for kind "ServiceMonitor" '
                         'in version "monitoring.coreos.com/v1"'),
    # TensorFlow's C++ log prefix (W = warning) marks the line a problem though it has no problem word
    ("tf-no-gpu", "2026-03-14 07:10:07.101234: W tensorflow/core/common_runtime/gpu/gpu_device.cc:2256] Cannot dlopen "
                  "some GPU libraries. Please make sure the missing libraries mentioned above are installed properly "
                  "if you would like to use GPU."),
    ("redis-maxmemory", "redis.exceptions.ResponseError: OOM command not allowed when used memory > 'maxmemory'."),
    ("redis-readonly", "ReplyError: READONLY You can't write against a read only replica."),
    ("autoscaler-group-at-max", "I0314 10:52:14.012345       1 orchestrator.go:153] Skipping node group "
                                "eks-gpu-pool-asg - max size reached"),
    ("db-lock", "org.postgresql.util.PSQLException: ERROR: deadlock detected"),
    ("db-lock", "java.sql.SQLException: Lock wait timeout exceeded; try restarting transaction"),
    ("pg-statement-timeout", "psycopg.errors.QueryCanceled: canceling statement due to statement timeout"),
    ("pg-not-accepting", 'psycopg.OperationalError: connection failed: connection to server at "10.0.4.12", port '
                         "5432 failed: FATAL:  the database system is in recovery mode"),
    ("hf-hub-unreachable", "OSError: We couldn't connect to 'https://huggingface.co' to load this file, couldn't find "
                           "it in the cached files and it looks like meta-llama/Llama-3.1-8B-Instruct is not the path "
                           "to a directory containing a file named config.json."),
    ("hf-gated", "OSError: You are trying to access a gated repo. Make sure to have access to it at "
                 "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct. 401 Client Error. (Request ID: Root=1-abc) "
                 "Cannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/resolve/"
                 "main/config.json."),
    ("helm-pending-operation", "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"),
    ("immutable-field", 'The Deployment "api" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
                        'map[string]string{"app":"api"}}: field is immutable'),
    ("connection-reset", "ERROR upstream: read tcp 10.244.1.7:44312->10.96.0.20:6379: read: connection reset by peer"),
    ("nfs-stale", "OSError: [Errno 116] Stale file handle: '/mnt/shared/checkpoints/step-1200'"),
    ("rate-limited", "ERROR sync failed: GET https://api.github.com/repos/acme/app/pulls: 403 API rate limit exceeded "
                     "for installation ID 4211"),
    ("clickhouse-too-many-parts", "2026.03.14 11:00:00.722612 [ 756 ] {9e58adad-1c8e-4e56-baa9-e1bdc631178c} <Error> "
                                  "executeQuery: Code: 252. DB::Exception: Too many parts (3016 with average size of "
                                  "1.29 KiB) in table 'telemetry.readings'. Merges are processing significantly slower "
                                  "than inserts. (TOO_MANY_PARTS)"),
]


def test_a_clients_datastore_error_is_linked_to_the_servers_own_failure_in_its_namespace():
    """Writes refused as read-only <- Patroni demoted the primary <- its etcd refusing writes (NOSPACE); a Mongo
    client's server selection <- the replica set without a primary; a blocked publisher <- the broker's alarm."""
    found = diagnose([
        log("ingest-1", "psycopg.errors.ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction", "db"),
        log("pg-0", "2026-03-14 10:12:04,998 INFO: demoted self because failed to update leader lock in DCS", "db",
            "postgres"),
        log("etcd-0", '{"level":"warn","msg":"apply request took too long","error":"etcdserver: mvcc: database space '
            'exceeded"}', "db", "etcd"),
        log("api-1", "MongoServerSelectionError: Server selection timed out after 30000 ms", "pts"),
        log("mongo-0", '{"s":"I","c":"ELECTION","msg":"Not starting an election","attr":{"reason":"Not standing for '
            'election because I cannot see a majority (mask 0x1)"}}', "pts", "mongod"),
        log("pub-1", '{"level":"warn","msg":"connection blocked by broker","reason":"low on memory"}', "pay"),
        log("mq-0", "2026-03-14 11:34:02.118233+00:00 [warning] <0.495.0> memory resource limit alarm set on node "
            "'rabbit@mq-0'.", "pay", "rabbitmq"),
    ])
    assert only(found, "patroni-demoted").id in only(found, "pg-read-only").related
    assert only(found, "etcd-nospace").id in only(found, "patroni-demoted").related
    assert not [f for f in found if f.rule == "etcd-slow-disk"], "a write refused for its quota is no slow disk"
    assert only(found, "mongo-no-primary").id in only(found, "mongo-server-selection").related
    assert only(found, "rabbitmq-alarm").id in only(found, "rabbitmq-blocked").related
    ordered = order([only(found, "pg-read-only")], found)
    assert [f.rule for f in ordered[:2]] == ["patroni-demoted", "pg-read-only"], "the server's failure leads"


def test_the_flood_stage_finding_names_the_data_node_over_the_watermark():
    line = ("flood stage disk watermark [95%] exceeded on [Mzq3cB7oQ5SBnZSYlJvXlA][es-data-2][/usr/share/"
            "elasticsearch/data] free: 4.1gb[4.1%], all indices on this node will be marked read-only")
    finding = only(diagnose([log("es-master-0", f"[WARN ][o.e.c.r.a.DiskThresholdMonitor] {line}", "search")]),
                   "es-flood-stage")
    assert "exceeded on [Mzq3cB7oQ5SBnZSYlJvXlA][es-data-2]" in finding.cause
    assert not [f for f in diagnose([log("es-master-0", line, "search")]) if f.rule == "disk-full"]


def test_an_unprivileged_port_is_not_a_privileged_port_failure():
    assert not [f for f in diagnose([log("app-1", "listen tcp 0.0.0.0:8080: bind: permission denied")])
                if f.rule == "privileged-port"]


def test_failures_are_linked_to_what_explains_them_on_the_same_node_namespace_or_object():
    # The VPC CNI's ipamd on the node, the primary's checkpoint warning, the kubelet's slow fsGroup chown.
    sandbox = ('Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox '
               '"4f1c": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP address to '
               'container')
    ipamd = "InsufficientFreeAddressesInSubnet: The specified subnet does not have enough free addresses"
    chown = ("Setting volume ownership for /var/lib/kubelet/pods/baf0/volumes/kubernetes.io~csi/pvc-d0a2/mount is taking "
             "longer than expected, consider using OnRootMismatch - https://kubernetes.io/docs/tasks/configure-pod-"
             "container/security-context/#configure-volume-permission-and-ownership-change-policy-for-pods")
    found = diagnose([
        event("Pod", "bid-1", "ads", "FailedCreatePodSandBox", sandbox, count=20, host="spot-1"),
        pod("bid-1", "ads", node="spot-1", phase="Pending"),
        log("aws-node-x", f"E0314 10:41:07 ipamd.go:874] {ipamd}", "kube-system", "aws-node", "spot-1"),
        log("aws-node-y", f"E0314 10:41:07 ipamd.go:874] {ipamd}", "kube-system", "aws-node", "spot-2"),
        log("pg-1", "ERROR:  requested WAL segment 000000010000002A0000003F has already been removed", "db", "postgres"),
        log("pg-0", "LOG:  checkpoints are occurring too frequently (9 seconds apart)", "db", "postgres"),
        pod("calling-1", "genomics", phase="Pending"),
        event("Pod", "calling-1", "genomics", "VolumePermissionChangeInProgress", chown, count=3),
        event("Pod", "calling-1", "genomics", "FailedMount", "Unable to attach or mount volumes: unmounted volumes=[data], "
              "unattached volumes=[], failed to process volumes=[]: context deadline exceeded", count=5),
    ])
    cni = {f.name: f for f in found if f.rule == "vpc-cni-ip-exhaustion"}
    assert cni["aws-node-x"].id in only(found, "sandbox-network").related
    assert cni["aws-node-y"].id not in only(found, "sandbox-network").related, "another node's CNI is not its cause"
    assert only(found, "pg-checkpoints-frequent").id in only(found, "pg-wal-removed").related
    assert only(found, "volume-ownership-slow").id in only(found, "volume-attach").related
    assert "OnRootMismatch" in only(found, "volume-ownership-slow").fix


def test_a_csi_driver_not_registered_on_a_node_is_linked_to_the_failing_csi_node_plugin_there():
    mount = ('MountVolume.MountDevice failed for volume "pvc-8a1c" : kubernetes.io/csi: attacher.MountDevice failed to '
             'create newCsiDriverClient: driver name ebs.csi.aws.com not found in the list of registered CSI drivers')
    crashing = [container("ebs-plugin", waiting=("CrashLoopBackOff", "back-off 5m0s"), last=("Error", 2), restarts=48)]
    found = diagnose([
        pod("jenkins-0", "ci", node="cpu-b-0", phase="Pending"),
        event("Pod", "jenkins-0", "ci", "FailedMount", mount, count=30, host="cpu-b-0"),
        pod("ebs-csi-node-h69mt", "kube-system", node="cpu-b-0", containers=crashing),
        pod("ebs-csi-node-q8wnm", "kube-system", node="cpu-b-1", containers=crashing),
        pod("fluent-bit-x2lqp", "logging", node="cpu-b-0", containers=crashing),
    ])
    missing = only(found, "csi-driver-missing")
    plugins = {f.name: f for f in found if f.rule == "crash-loop"}
    assert plugins["ebs-csi-node-h69mt"].id in missing.related
    assert plugins["ebs-csi-node-q8wnm"].id not in missing.related, "another node's plugin is not its cause"
    assert plugins["fluent-bit-x2lqp"].id not in missing.related, "not a CSI plugin"
    ordered = order([missing], found)
    assert [f.name for f in ordered[:2]] == ["ebs-csi-node-h69mt", "jenkins-0"], "the plugin's failure leads"


@pytest.mark.parametrize(("rule", "line"), SIGNATURE_LINES)
def test_runtime_failure_messages_are_named_by_their_signature(rule: str, line: str):
    from kubetrainer.diagnose.knowledge import SIGNATURE_BY_RULE

    finding = only(diagnose([log("app-1", line)]), rule)
    assert SIGNATURE_BY_RULE[rule].cause in finding.cause and finding.evidence[0].text == line


def test_a_container_without_a_gpu_request_is_told_so_when_it_finds_no_gpu():
    line = "RuntimeError: Found no NVIDIA driver on your system."
    dead = [container(terminated=("Error", 1))]
    asked = diagnose([pod("embed-1", "ml", containers=dead), log("embed-1", line, "ml")])
    assert "the pod requests no GPU (no nvidia.com/gpu limit)" in only(asked, "container-failed").cause
    given = diagnose([pod("embed-1", "ml", containers=dead, gpus=1), log("embed-1", line, "ml")])
    assert "requests no GPU" not in only(given, "container-failed").cause


def test_a_redis_client_refused_writes_is_explained_by_the_servers_failing_save():
    client = log("booking-1", "ReplyError: MISCONF Redis is configured to save RDB snapshots, but it's currently "
                              "unable to persist to disk.", "bookings")
    server = log("cache-0", "27:C 14 Mar 2026 09:03:12.006 # Failed opening the temp RDB file temp-27.rdb (in server "
                            "root dir /data) for saving: Permission denied", "bookings", "redis")
    found = diagnose([client, server, log("other-0", server["message"], "elsewhere", "redis")])
    misconf, bgsave = only(found, "redis-misconf"), next(f for f in found if f.rule == "redis-bgsave" and f.name == "cache-0")
    assert bgsave.id in misconf.related
    assert all(f.id not in misconf.related for f in found if f.namespace == "elsewhere")


def test_a_container_that_never_starts_is_explained_by_the_kubelets_start_error():
    """No logs (the process never ran): the kubelet's `Failed` event holds the runtime's error, its last line the cause."""
    start_error = ("Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc "
                   "create failed: unable to start container process: error during container init: error running hook "
                   "#0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\n"
                   "nvidia-container-cli: initialization error: nvml error: driver/library version mismatch: unknown")
    crashing = container(waiting=("CrashLoopBackOff", "back-off 5m0s"), last=("StartError", 128), restarts=66)
    found = diagnose([pod("asr-1", "speech", containers=[crashing], gpus=1),
                      event("Pod", "asr-1", "speech", "Failed", start_error, count=66)])
    crash = only(found, "crash-loop")
    assert "it fails to start: the node's NVIDIA kernel module and its driver libraries are different versions" in crash.cause
    assert 'nvidia-container-cli: initialization error: nvml error: driver/library version mismatch: unknown"' in crash.cause
    assert crash.fix.startswith("drain and reboot the node") and not [f for f in found if f.rule.startswith("event-")]
    plain = diagnose([pod("api-1", containers=[crashing]),
                      event("Pod", "api-1", "web", "Failed", 'Error: failed to start container "app": Error response '
                                                             'from daemon: error while creating mount source path '
                                                             '"/mnt/shared": mkdir /mnt/shared: file exists')])
    assert 'it fails to start: "Error: failed to start container' in only(plain, "crash-loop").cause


def test_a_cronjob_that_skips_runs_behind_a_hung_job_is_a_finding_though_its_event_is_normal():
    """The cronjob controller records JobAlreadyActive as a Normal event; other Normal events stay routine."""
    skipped = event("CronJob", "nightly-export", "crm", "JobAlreadyActive", "Not starting job because prior execution "
                    "is running and concurrency policy is Forbid", warning=False, count=2)
    routine = event("CronJob", "nightly-export", "crm", "SuccessfulCreate", "Created job nightly-export-29554620",
                    warning=False)
    finding = only(diagnose([skipped, routine]), "cronjob-skipped")
    assert finding.kind == "CronJob" and "concurrencyPolicy is Forbid" in finding.cause
    hung = object_record({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly-export-29554620",
                                                                              "namespace": "crm"},
                          "status": {"active": 1, "startTime": "2026-03-12T01:00:03Z"}}, "dump")
    done = object_record({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly-export-29553180",
                                                                              "namespace": "crm"},
                          "status": {"succeeded": 1, "startTime": "2026-03-11T01:00:02Z"}}, "dump")
    named = only(diagnose([skipped, hung, done]), "cronjob-skipped")
    assert named.cause.endswith("; its Job nightly-export-29554620 is still active, started 2026-03-12T01:00:03Z")
    assert "29553180" not in named.cause and any("1 active" in item.text for item in named.evidence)
    running = pod("nightly-export-29554620-6zq49", "crm")
    finished = pod("nightly-export-29553180-x2k4q", "crm", phase="Succeeded")
    by_pod = only(diagnose([skipped, running, finished]), "cronjob-skipped")
    assert by_pod.cause.endswith("; its run's pod nightly-export-29554620-6zq49 is still running")
    # pg_dump -v's progress lines: the run hangs on one table.
    dumping = 'pg_dump: dumping contents of table "public.activities"'
    progress = [log("nightly-export-29554620-6zq49", 'pg_dump: dumping contents of table "public.accounts"', "crm",
                    ts="2026-03-12T01:02:00Z"),
                log("nightly-export-29554620-6zq49", dumping, "crm", ts="2026-03-12T01:09:00Z")]
    stuck = only(diagnose([skipped, running, finished, *progress]), "cronjob-skipped")
    assert stuck.cause.endswith(f', and the last line it logged, at 2026-03-12T01:09:00Z, is "{dumping}"')
    assert dumping in [item.text for item in stuck.evidence]


def test_a_jvm_out_of_heap_names_its_heap_cap_and_quotes_the_containers_settings():
    record = pod("claims-1", "claims", containers=[container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 3),
                                                               restarts=9)])
    spec = {"name": "app", "image": "registry.example.com/claims:4.1", "resources": {"limits": {"memory": "2Gi"}},
            "env": [{"name": "JAVA_OPTS", "value": "-Xmx512m -XX:+ExitOnOutOfMemoryError"},
                    {"name": "DB_URL", "value": "jdbc:postgresql://claims-db:5432/claims"}]}
    record["object"]["summary"] = record["message"] = render_pod(
        {"metadata": {"name": "claims-1", "namespace": "claims"}, "spec": {"nodeName": "node-1", "containers": [spec]},
         "status": {"phase": "Running", "containerStatuses": [container(waiting=("CrashLoopBackOff", "back-off"),
                                                                        last=("Error", 3), restarts=9)]}})
    assert "; JVM heap -Xmx512m" in record["message"]
    settings = "env app: JAVA_OPTS=-Xmx512m -XX:+ExitOnOutOfMemoryError, DB_URL=jdbc:postgresql://claims-db:5432/claims"
    assert record["message"].endswith(f"; {settings}."), "the settings as kubectl describe lists them"
    assert "; memory limits app=2Gi" in record["message"], "a heap cap is stated with what it is measured against"
    crash = only(diagnose([record, log("claims-1", "Terminating due to java.lang.OutOfMemoryError: Java heap space",
                                       "claims")]), "crash-loop")
    assert "its JVM heap is capped at -Xmx512m, within the memory limit app=2Gi" in crash.cause
    assert [item.text for item in crash.settings] == ["images registry.example.com/claims:4.1", settings]


def test_a_node_process_at_its_v8_heap_cap_states_the_cap_from_node_options_and_its_memory_limit() -> None:
    crashing = container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 134), restarts=19)
    spec = {"name": "app", "image": "registry.example.com/report-renderer:3.0.0",
            "resources": {"limits": {"memory": "2Gi"}},
            "env": [{"name": "NODE_OPTIONS", "value": "--max-old-space-size=256 --enable-source-maps"},
                    {"name": "S3_BUCKET", "value": "exports"}]}
    summary = render_pod({"metadata": {"name": "renderer-1", "namespace": "reports"},
                          "spec": {"nodeName": "node-1", "containers": [spec]},
                          "status": {"phase": "Running", "containerStatuses": [crashing]}})
    assert "; Node.js heap --max-old-space-size=256; memory limits app=2Gi" in summary
    record = pod("renderer-1", "reports", containers=[crashing])
    record["object"]["summary"] = record["message"] = summary
    crash = only(diagnose([record, log("renderer-1", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript "
                                       "heap out of memory", "reports")]), "crash-loop")
    assert "its V8 heap is capped at --max-old-space-size=256 (MiB), within the memory limit app=2Gi" in crash.cause


def test_a_line_whose_stated_level_is_below_error_is_not_an_error_whatever_words_it_holds():
    lines = ["I0313 08:21:04.002937       1 main.go:90] Received NotifyRegistrationStatus call: "
             "&RegistrationStatus{PluginRegistered:true,Error:,}",
             '{"level":"info","msg":"retry succeeded after error","attempt":2}',
             "time=2026-03-14T09:00:00Z level=debug msg=\"error budget 99.9% remaining\""]
    assert not [f for f in diagnose([log("csi-node-1", line, "kube-system") for line in lines]) if f.rule == "log-errors"]
    assert only(diagnose([log("csi-node-1", "E0313 08:21:04.002937 1 main.go:90] registration failed", "kube-system")]),
                "log-errors")


def test_a_pod_pinned_by_its_volume_names_the_zone_left_without_a_schedulable_node():
    # kube-scheduler's message when the pod's bound zonal volume lives where no usable node is; the autoscaler's
    # NotTriggerScaleUp is a Normal event.
    pending = ("0/4 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 1 node(s) were "
               "unschedulable, 2 node(s) had volume node affinity conflict. preemption: 0/4 nodes are available: 4 "
               "Preemption is not helpful for scheduling.")
    scale = "pod didn't trigger scale-up: 2 node(s) had volume node affinity conflict"
    zone = "topology.kubernetes.io/zone"
    found = diagnose([node("cpu-a-0", labels={zone: "eu-west-1a"}), node("cpu-b-0", labels={zone: "eu-west-1b"}),
                      node("cpu-c-0", labels={zone: "eu-west-1c"}, cordoned=True),
                      node("gpu-a-0", labels={zone: "eu-west-1a", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}),
                      pod("tsdb-2", "metrics", node=None, phase="Pending", claims=("data-tsdb-2",)),
                      event("Pod", "tsdb-2", "metrics", "FailedScheduling", pending, count=30),
                      event("Pod", "tsdb-2", "metrics", "NotTriggerScaleUp", scale, count=40, warning=False)])
    finding = only(found, "unschedulable")
    assert "no node takes pods in zone eu-west-1c (cpu-c-0: cordoned)" in finding.cause
    assert "the cluster autoscaler adds no node for it (NotTriggerScaleUp: pod didn't trigger scale-up" in finding.cause
    assert any("cpu-c-0" in item.text and "cordoned" in item.text for item in finding.evidence)
    gpu_node = only(found, "gpu-missing")  # its GPU fault does not explain a pod that only names its GPU taint
    assert gpu_node.id not in finding.related


def test_a_pod_no_node_group_may_grow_for_is_followed_by_the_autoscalers_report_of_which_group_is_at_its_max():
    # kube-scheduler's anti-affinity refusal, the autoscaler's NotTriggerScaleUp event (Normal) on the pod, and the
    # line its scale-up orchestrator logs at info level for the group it may not grow.
    pending = ("0/9 nodes are available: 4 node(s) didn't match pod anti-affinity rules, 5 node(s) didn't match Pod's "
               "node affinity/selector. preemption: 0/9 nodes are available: 9 Preemption is not helpful for scheduling.")
    scale = ("pod didn't trigger scale-up: 1 max node group size reached, 2 node(s) didn't match Pod's node "
             "affinity/selector")
    skipped = "I0314 10:52:14.012345       1 orchestrator.go:153] Skipping node group eks-search-pool-asg - max size reached"
    found = diagnose([pod("quoter-2", "search", node=None, phase="Pending"),
                      event("Pod", "quoter-2", "search", "FailedScheduling", pending, count=30),
                      event("Pod", "quoter-2", "search", "NotTriggerScaleUp", scale, count=40, warning=False),
                      *(log("cluster-autoscaler-6c9d8-x2lqp", skipped, "kube-system") for _ in range(3))])
    at_max = only(found, "autoscaler-group-at-max")
    assert "the node group is at its maximum size (node group eks-search-pool-asg) (3 times)" in at_max.cause
    pending_pod = only(found, "unschedulable")
    assert at_max.id in pending_pod.related
    assert [finding.rule for finding in order([pending_pod], found)] == ["unschedulable", "autoscaler-group-at-max"]


def test_a_signature_finding_names_the_specifics_its_lines_give():
    # client-go's reflector and a controller's reconcile error, each denied a different permission.
    lines = ['E0314 06:30:01.748897 1 reflector.go:147] failed to list *v1.PersistentVolumeClaim: '
             'persistentvolumeclaims is forbidden: User "system:serviceaccount:ops:backup" cannot list resource '
             '"persistentvolumeclaims" in API group "" in the namespace "ledger"',
             'E0314 07:00:03.460069 1 controller.go:329] "Reconciler error" err="creating VolumeSnapshot ledger/pg-0700: '
             'volumesnapshots.snapshot.storage.k8s.io is forbidden: User \\"system:serviceaccount:ops:backup\\" cannot '
             'create resource \\"volumesnapshots\\" in API group \\"snapshot.storage.k8s.io\\" in the namespace '
             '\\"ledger\\""']
    finding = only(diagnose([log("backup-1", line, "ops") for line in lines]), "rbac-forbidden")
    assert 'cannot list resource "persistentvolumeclaims" in API group "" in the namespace "ledger"' in finding.cause
    assert 'cannot create resource \\"volumesnapshots\\"' in finding.cause


def test_a_container_running_again_after_failing_is_explained_by_what_it_logged():
    # A controller throttled by its own client (an info-level klog line) that then loses its lease and exits.
    throttled = ("I0314 11:43:53.931740 1 request.go:697] Waited for 9.352578s due to client-side throttling, not "
                 "priority and fairness, request: PATCH:https://10.96.0.1:443/apis/coordination.k8s.io/v1/leases/op")
    lost = "E0314 11:44:10.000000 1 leaderelection.go:308] Failed to release lock: leader election lost"
    running = container("manager", last=("Error", 1), restarts=6, ready=True)
    found = diagnose([pod("op-1", "ops", containers=[running]), log("op-1", throttled, "ops", "manager"),
                      log("op-1", lost, "ops", "manager"),
                      event("Pod", "op-1", "ops", "BackOff", "Back-off restarting failed container manager", count=9)])
    finding = only(found, "container-restarts")
    assert finding.cause.startswith("container manager restarted 6 times (last exit code 1, Error) and runs again: ")
    assert "client-side throttling" in finding.cause and "leader lease" in finding.cause
    assert not [f for f in found if f.rule in ("client-throttling", "leader-election-lost", "event-BackOff")]
    quiet = diagnose([pod("op-2", "ops", containers=[container("manager", last=("Error", 1), restarts=1, ready=True)])])
    assert quiet == [], "an old restart with no events and no logged reason is history, not a finding"
    probed = diagnose([pod("op-3", "ops", containers=[container("manager", last=("Error", 137), restarts=3, ready=True)]),
                       event("Pod", "op-3", "ops", "Unhealthy", 'Liveness probe failed: Get "http://10.0.0.9:8080/healthz": '
                             "context deadline exceeded", count=12),
                       event("Pod", "op-3", "ops", "BackOff", "Back-off restarting failed container manager", count=3)])
    assert [f.rule for f in probed] == ["liveness-probe"], "the probe that kills the container is the finding"


def test_a_pod_the_kubelet_rejects_is_one_finding_with_its_reason():
    message = 'Pod was rejected: forbidden sysctl: "net.core.somaxconn" not allowlisted'
    found = diagnose([pod("ws-1", "rt", phase="Failed", reason="SysctlForbidden", message=message),
                      event("Pod", "ws-1", "rt", "SysctlForbidden", 'forbidden sysctl: "net.core.somaxconn" not allowlisted')])
    finding = only(found, "pod-failed")
    assert "the pod failed (SysctlForbidden): the pod sets a sysctl the kubelet does not allow" in finding.cause
    assert "net.core.somaxconn" in finding.cause and "allowed-unsafe-sysctls" in finding.fix
    assert [f.rule for f in found] == ["pod-failed"], "its event is part of the finding"

    numa = "Pod was rejected: Resources cannot be allocated with Topology locality"
    rejected = diagnose([pod("mt-4", "mt", phase="Failed", reason="TopologyAffinityError", message=numa),
                         event("Pod", "mt-4", "mt", "TopologyAffinityError",
                               "Resources cannot be allocated with Topology locality")])
    finding = only(rejected, "pod-failed")
    assert "cannot all be placed on one NUMA node" in finding.cause and "topologyManagerPolicy" in finding.fix


def test_a_refusal_on_a_loopback_port_names_the_sidecar_that_serves_it_and_when_it_came_up():
    refused = ('psycopg.OperationalError: connection failed: connection to server at "127.0.0.1", port 6432 failed: '
               "Connection refused")
    started = "2026-03-14 09:41:52.900 UTC [1] LOG listening on 0.0.0.0:6432"
    # Bitnami's PgBouncer image waits for its backend before it starts PgBouncer.
    setup = ["pgbouncer 09:41:24.36 INFO  ==> Initializing PgBouncer...",
             "pgbouncer 09:41:24.38 INFO  ==> Waiting for PostgreSQL backend to be accessible",
             "pgbouncer 09:41:37.66 INFO  ==> Backend db.example.internal:5432 accessible"]
    running = container("app", last=("Error", 1), restarts=1, ready=True)
    found = diagnose([pod("tw-1", "pay", containers=[running, container("pgbouncer", ready=True)]),
                      *(log("tw-1", line, "pay", "pgbouncer", ts="2026-03-14T09:41:00Z") for line in setup),
                      log("tw-1", refused, "pay", "app", ts="2026-03-14T09:41:01Z"),
                      log("tw-1", started, "pay", "pgbouncer", ts="2026-03-14T09:41:52Z"),
                      event("Pod", "tw-1", "pay", "BackOff", "Back-off restarting failed container app")])
    finding = only(found, "container-restarts")
    assert "port 6432 is served by the pod's own pgbouncer container" in finding.cause
    assert "which was not listening yet" in finding.cause
    refusal = [item.text for item in finding.evidence].index(refused)
    assert [item.text for item in finding.evidence[refusal + 1:refusal + 3]] == [setup[1], started], \
        "quoted right after the refusal: what it was waiting for, and when it " \
        "listened"


def test_a_server_listening_on_localhost_only_explains_its_failing_probe():
    probe = 'Readiness probe failed: Get "http://10.244.1.7:8000/healthz": dial tcp 10.244.1.7:8000: connect: connection refused'
    found = diagnose([pod("risk-1", "uw", containers=[container("app", ready=False)]),
                      log("risk-1", "INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)", "uw"),
                      event("Pod", "risk-1", "uw", "Unhealthy", probe, count=40)])
    finding = only(found, "readiness-probe")
    assert "its app container listens on 127.0.0.1:8000 only" in finding.cause
    plain = diagnose([pod("risk-2", "uw", containers=[container("app", ready=False)]),
                      log("risk-2", "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)", "uw"),
                      event("Pod", "risk-2", "uw", "Unhealthy", probe, count=40)])
    assert "listens on" not in only(plain, "readiness-probe").cause


def test_a_client_failing_to_reach_a_service_is_explained_by_its_pods_listening_on_localhost_only():
    # The client logs JSON with the proxy's reply in a field of its own (`body`); the dump holds no Services.
    declined = ('{"level": "error", "msg": "risk score unavailable, quote declined", "status": 503, "upstream": '
                '"http://risk-scorer.uw.svc.cluster.local:8000/v1/score", "body": "upstream connect error or '
                'disconnect/reset before headers. reset reason: connection failure, transport failure reason: '
                'delayed connect error: 111"}')
    running = [container("app", ready=True)]
    found = diagnose([pod("quote-api-6d5f8c7b9d-z9x8k", "uw", containers=running),
                      *(log("quote-api-6d5f8c7b9d-z9x8k", declined, "uw") for _ in range(3)),
                      pod("risk-scorer-7d9f8c6b5d-x2lqp", "uw", containers=running),
                      log("risk-scorer-7d9f8c6b5d-x2lqp", "INFO:     Uvicorn running on http://127.0.0.1:8000", "uw")])
    client = only(found, "no-healthy-upstream")
    assert client.addressed == ["uw/risk-scorer"]
    assert "pod uw/risk-scorer-7d9f8c6b5d-x2lqp behind it: its app container listens on 127.0.0.1:8000 only" \
        in client.cause
    assert "0.0.0.0" in client.fix
    assert "INFO:     Uvicorn running on http://127.0.0.1:8000" in [item.text for item in client.evidence]
    assert "delayed connect error: 111" in compose([client], Sources([])).text, "the field holding the error is quoted"


def test_a_certificate_not_yet_valid_is_explained_by_its_nodes_clock_problem():
    skew = ("tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time "
            "2026-03-14T07:43:00Z is before 2026-03-14T08:00:00Z")
    ntp = {"NTPProblem": ("True", "NTPIsDown", "NTP service is not running")}  # node-problem-detector's condition
    found = diagnose([node("cpu-2", pressure=ntp), node("cpu-3", pressure=ntp),
                      pod("fx-1", "ledger", node="cpu-2", containers=[container(ready=True)]),
                      *(log("fx-1", skew, "ledger", node_name="cpu-2") for _ in range(3))])
    tls = only(found, "x509-not-yet-valid")
    clocks = {f.name: f for f in found if f.rule == "node-condition"}
    assert clocks["cpu-2"].id in tls.related and clocks["cpu-3"].id not in tls.related
    assert order([tls], found)[0] is clocks["cpu-2"], "the node's clock leads"


def test_a_failed_dns_lookup_is_explained_by_coredns_crashing():
    crashing = [container("coredns", waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1), restarts=9)]
    lookup = "dial tcp: lookup smtp.relay.svc.cluster.local on 10.96.0.10:53: read udp: i/o timeout: no such host"
    found = diagnose([pod("coredns-7d9f8c6b5d-x2lqp", "kube-system", containers=crashing),
                      pod("mailer-1", "shop", containers=[container(ready=True)]),
                      *(log("mailer-1", lookup, "shop") for _ in range(3))])
    dns = only(found, "dns-failure")
    assert order([dns], found)[0].name == "coredns-7d9f8c6b5d-x2lqp"



def test_a_node_client_whose_lookups_time_out_is_explained_by_the_node_local_dns_cache_failing():
    # Node.js's EAI_AGAIN (no answer in time); kubespray names the NodeLocal DNSCache pods `nodelocaldns-*`
    timeouts = [log("nodelocaldns-scpnl", "[ERROR] plugin/errors: 2 tos.corp. A: read udp 10.60.1.5:53022->10.60.0.53:53: "
                    "i/o timeout", "kube-system", "node-cache") for _ in range(3)]
    failed = ('{"level": "error", "msg": "TOS lookup failed", "error": "getaddrinfo EAI_AGAIN tos.corp"}')
    found = diagnose([pod("nodelocaldns-scpnl", "kube-system", containers=[container("node-cache", ready=True)]),
                      pod("gate-ocr-1", "yard", containers=[container(ready=True)]), *timeouts,
                      *(log("gate-ocr-1", failed, "yard") for _ in range(3))])
    dns = only(found, "dns-failure")
    assert "getaddrinfo EAI_AGAIN tos.corp" in dns.cause
    assert order([dns], found)[0].name == "nodelocaldns-scpnl"


def test_a_pods_cuda_failure_is_explained_by_its_nodes_xid_and_not_another_nodes():
    plugin = ("W0314 10:50:00.412000       1 health.go:185] XidCriticalError: Xid=79 on Device=GPU-061ae8d1-3 "
              "(GPU has fallen off the bus); marking device as unhealthy.")
    cuda = "RuntimeError: CUDA error: unspecified launch failure"
    failed = [container("trainer", terminated=("Error", 1))]
    found = diagnose([node("gpu-0", gpus=(7, 8)), node("gpu-1", gpus=(7, 8)),
                      log("nvidia-device-plugin-x", plugin, "kube-system", "nvidia-device-plugin", "gpu-0"),
                      log("nvidia-device-plugin-y", plugin, "kube-system", "nvidia-device-plugin", "gpu-1"),
                      pod("train-x2lqp", "ml", node="gpu-0", phase="Failed", containers=failed),
                      log("train-x2lqp", cuda, "ml", "trainer", "gpu-0")])
    trainer = next(f for f in found if f.name == "train-x2lqp" and f.rule == "container-failed")
    xids = {f.name: f for f in found if f.rule == "gpu-xid"}
    assert xids["gpu-0"].id in trainer.related and xids["gpu-1"].id not in trainer.related
    lead = order([trainer], found)[0]
    assert lead.kind == "Node" and lead.name == "gpu-0", "the node's GPU fault leads"


def test_a_headless_services_pod_name_is_addressed_and_explains_the_lookup_failing():
    lookup = ("[W socket.cpp:697] [c10d] The IPv4 network addresses of (pretrain-0.pretrain.asr.svc, 29400) cannot be "
              "retrieved (gai error: -2 - Name or service not known).")
    # An Indexed Job's pods: hostname pretrain-0 (subdomain pretrain) for pod pretrain-0-4tqgr.
    found = diagnose([pod("pretrain-0-4tqgr", "asr", phase="Failed", containers=[container("trainer", terminated=("Error", 1))]),
                      log("pretrain-0-4tqgr", "torch.distributed.DistStoreError: Timed out after 601 seconds waiting for "
                          "clients. 1/2 clients joined.", "asr", "trainer"),
                      pod("pretrain-1-npm88", "asr", phase="Failed", containers=[container("trainer", terminated=("Error", 1))]),
                      log("pretrain-1-npm88", lookup, "asr", "trainer")])
    worker = next(f for f in found if f.name == "pretrain-1-npm88" and "DNS" in f.cause)
    assert worker.addressed == ["asr/pretrain", "asr/pretrain-0-4tqgr"]
    stateful = diagnose([pod("pretrain-0", "asr", containers=[container("trainer", ready=True)]),
                         pod("pretrain-1", "asr", phase="Failed", containers=[container("trainer", terminated=("Error", 1))]),
                         log("pretrain-1", lookup, "asr", "trainer")])  # a StatefulSet's pod is its hostname
    assert next(f for f in stateful if f.name == "pretrain-1").addressed == ["asr/pretrain", "asr/pretrain-0"]
    server = next(f for f in found if f.name == "pretrain-0-4tqgr")
    assert server.id in worker.related and order([worker], found)[0] is server, "the worker it waited for leads"


def test_a_pod_pending_on_an_untolerated_taint_names_the_nodes_that_carry_it():
    message = ("0/3 nodes are available: 2 node(s) had untolerated taint {dedicated: inference}, 1 node(s) didn't "
               "match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
               "for scheduling.")
    tainted = [{"key": "dedicated", "value": "inference", "effect": "NoSchedule"}]
    found = diagnose([node("gpu-1", taints=tainted), node("gpu-0", taints=tainted), node("cpu-0"), pod("embedder-1", "search", node=None, phase="Pending"),
                      event("Pod", "embedder-1", "search", "FailedScheduling", message)])
    pending = only(found, "unschedulable")
    assert "the taint dedicated=inference is on node(s) gpu-0, gpu-1" in pending.cause
    assert any("taints dedicated=inference:NoSchedule" in item.text for item in pending.evidence)


def test_an_hpa_without_metrics_and_a_claim_without_a_volume_are_explained_by_the_component_that_failed():
    crashing = [container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1), restarts=9)]
    metrics = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
               "resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)")
    provisioning = ("Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or "
                    "manually by the system administrator. If volume creation is delayed, please verify that the "
                    "provisioner is running and correctly registered.")
    found = diagnose([pod("metrics-server-7d9f8c6b5d-x2lqp", "kube-system", containers=crashing),
                      pod("ebs-csi-controller-5cngn46ltt-q8wnm", "kube-system", containers=crashing),
                      event("HorizontalPodAutoscaler", "web", "shop", "FailedGetResourceMetric", metrics, count=40),
                      claim("data-db-0", "shop"),
                      event("PersistentVolumeClaim", "data-db-0", "shop", "ExternalProvisioning", provisioning,
                            count=30, warning=False)])  # a Normal event, as the PV controller writes it
    by_name = {finding.name: finding for finding in found}
    hpa, volume = by_name["web"], by_name["data-db-0"]
    assert by_name["metrics-server-7d9f8c6b5d-x2lqp"].id in hpa.related
    assert by_name["ebs-csi-controller-5cngn46ltt-q8wnm"].id in volume.related
    assert by_name["ebs-csi-controller-5cngn46ltt-q8wnm"].id not in hpa.related
    assert order([hpa], found)[0].name == "metrics-server-7d9f8c6b5d-x2lqp"
    assert order([volume], found)[0].name == "ebs-csi-controller-5cngn46ltt-q8wnm"
    provisioned = diagnose([claim("data-db-1", "shop", phase="Bound"),
                            event("PersistentVolumeClaim", "data-db-1", "shop", "ExternalProvisioning", provisioning,
                                  warning=False)])
    assert not provisioned, "every claim says it while provisioned"


def test_a_python_traceback_is_explained_by_the_line_before_it_not_by_its_own_frames():
    lines = ["INFO 03-14 09:12:01 config.py:1020 Loading model meta-llama/Llama-3.1-8B-Instruct, max_model_len=131072",
             "Traceback (most recent call last):",
             '  File "/usr/lib/python3/site-packages/vllm/engine/llm_engine.py", line 451, in _initialize_kv_caches',
             "    raise ValueError(",
             "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be "
             "stored in KV cache (29648). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
             "initializing the engine."]
    found = diagnose([pod("llm-1", "ai", containers=[container(waiting=("CrashLoopBackOff", "back-off"),
                                                                last=("Error", 1), restarts=3)]),
                      *(log("llm-1", line, "ai") for line in lines)])
    crash = only(found, "crash-loop")
    assert 'after "INFO 03-14 09:12:01 config.py:1020 Loading model meta-llama/Llama-3.1-8B-Instruct' in crash.cause
    assert "max seq len (131072)" in crash.cause


def test_a_rust_panic_is_explained_by_the_message_on_the_line_after_it():
    # Rust (1.73+) prints the panic location, then the message on its own line.
    lines = ["2026-03-14T11:59:05.111810Z  INFO tile_server::tiles: 48211904 tiles indexed (zoom 0-14)",
             "thread 'main' panicked at src/main.rs:88:10:",
             'failed to bind 0.0.0.0:80: Os { code: 13, kind: PermissionDenied, message: "Permission denied" }',
             "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"]
    found = diagnose([pod("tiles-1", "maps", containers=[container(waiting=("CrashLoopBackOff", "back-off"),
                                                                   last=("Error", 101), restarts=21)]),
                      *(log("tiles-1", line, "maps") for line in lines)])
    crash = only(found, "crash-loop")
    assert "cannot listen on a port below 1024" in crash.cause and "0.0.0.0:80" in crash.cause


def test_a_failing_run_of_a_recurring_job_names_the_previous_run_that_ran_other_images():
    """Runs named by day (or by a CronJob's scheduled minute): the latest earlier run with other images is named."""
    def run(name: str, phase: str, image: str) -> dict:
        record = pod(name, "ads", phase=phase, containers=[container(terminated=("Completed", 0) if phase ==
                                                                     "Succeeded" else ("Error", 1))])
        record["object"]["summary"] = record["object"]["summary"].rstrip(".") + f"; images {image}."
        return record

    lines = [log("train-20260314-8ds9j", "2026-03-14 07:10:07.101234: W tensorflow/core/common_runtime/gpu/gpu_device."
                 "cc:2256] Cannot dlopen some GPU libraries.", "ads")]
    found = diagnose([run("train-20260312-aaaaa", "Succeeded", "reg/trainer:4.9.0"),
                      run("train-20260313-hrl7t", "Succeeded", "reg/trainer:4.9.1"),
                      run("train-20260314-8ds9j", "Failed", "reg/trainer:5.0.0"), *lines])
    finding = next(f for f in found if f.name == "train-20260314-8ds9j" and f.rule == "container-failed")
    assert ("the previous run train-20260313-hrl7t (Succeeded) ran reg/trainer:4.9.1, this run runs reg/trainer:5.0.0"
            in finding.cause)
    assert "trainer:4.9.1" in finding.evidence[1].text
    indexed = diagnose([run("lora-0313-0-q5nmz", "Succeeded", "reg/lora:2026.03.10"),
                        run("lora-0314-0-26swz", "Failed", "reg/lora:2026.03.14"),
                        log("lora-0314-0-26swz", "[rank0]: RuntimeError: No HIP GPUs are available", "ads")])
    assert "the previous run lora-0313-0-q5nmz (Succeeded) ran reg/lora:2026.03.10" in next(
        f for f in indexed if f.name == "lora-0314-0-26swz" and f.severity != "info").cause, "an Indexed Job's pods"
    same = diagnose([run("train-20260313-hrl7t", "Succeeded", "reg/trainer:5.0.0"),
                     run("train-20260314-8ds9j", "Failed", "reg/trainer:5.0.0"), *lines])
    assert "previous run" not in next(f for f in same if f.name == "train-20260314-8ds9j" and f.severity != "info").cause
    # a CronJob's run whose pods an admission webhook refused: its Job is compared with the last run's pod
    denied = ('Error creating: admission webhook "mutate.kyverno.svc-fail" denied the request: resource Pod/ads/'
              "export-29558100-hdr7v was blocked due to the following policies verify-signatures: failed to verify "
              "image reg/export:2.8.0: no matching signatures")
    refused = diagnose([run("export-29557980-nq4nq", "Succeeded", "reg/export:2.7.3"),
                        run("export-29558040-f9cvc", "Succeeded", "reg/export:2.7.3"),
                        event("Job", "export-29558100", "ads", "FailedCreate", denied, count=6)])
    job = next(f for f in refused if f.kind == "Job" and f.name == "export-29558100")
    assert job.cause.endswith("; the previous run export-29558040-f9cvc (Succeeded) ran reg/export:2.7.3")
    assert "reg/export:2.7.3" in job.evidence[1].text


def test_a_failing_new_version_names_the_previous_version_that_still_serves():
    # A Deployment mid-rollout: the new ReplicaSet's pod crash-loops, the old one's pods run (sources.render's status).
    old = [pod(f"tiles-wg2jxh9dxt-{suffix}", "maps", containers=[container(ready=True)],
               conditions=[{"type": "Ready", "status": "True"}]) for suffix in ("mlljq", "4b2cv")]
    for record in old:
        record["object"]["summary"] = record["object"]["summary"].rstrip(".") + "; images registry.example.com/tiles:1.8.3."
    new = pod("tiles-7bsqz8s5s9-j2qx4", "maps", containers=[container(waiting=("CrashLoopBackOff", "back-off"),
                                                                      last=("Error", 101), restarts=21)])
    new["object"]["summary"] = new["object"]["summary"].rstrip(".") + "; images registry.example.com/tiles:1.9.0."
    found = diagnose([*old, new, log("tiles-7bsqz8s5s9-j2qx4", "listen tcp :80: bind: permission denied", "maps")])
    crash = only(found, "crash-loop")
    assert ("the previous version of tiles still serves (registry.example.com/tiles:1.8.3: pods tiles-wg2jxh9dxt-4b2cv, "
            "tiles-wg2jxh9dxt-mlljq), this pod runs registry.example.com/tiles:1.9.0") in crash.cause
    assert "tiles:1.8.3" in crash.evidence[1].text
    same = diagnose([*old, pod("tiles-wg2jxh9dxt-zzzzz", "maps", containers=[container(waiting=("CrashLoopBackOff", "b"),
                                                                                       last=("Error", 1), restarts=5)])])
    assert "previous version" not in only(same, "crash-loop").cause, "a sibling of the same ReplicaSet is no older version"


def test_a_crash_explained_by_a_signature_also_quotes_the_programs_last_error():
    # aws-ebs-csi-driver's node plugin: the IMDS timeout (a signature), then its own verdict at error level, then a panic.
    lines = ['I0314 11:58:35.036937       1 ec2.go:40] "Retrieving EC2 instance identity metadata" regionFromSession=""',
             'I0314 11:58:40.035849       1 metadata.go:52] "failed to retrieve instance data from ec2 metadata; retrieving '
             'instance data from kubernetes api" err="could not get EC2 instance identity metadata: operation error ec2imds: '
             'GetInstanceIdentityDocument, request canceled, context deadline exceeded"',
             'E0314 11:59:10.035910       1 main.go:154] "Could not determine region from any metadata service. The region '
             'can be manually supplied via the AWS_REGION environment variable." err="error getting instance data from ec2 '
             'metadata or kubernetes api"']
    found = diagnose([pod("ebs-csi-node-h69mt", "kube-system", containers=[container(
        "ebs-plugin", waiting=("CrashLoopBackOff", "back-off"), last=("Error", 2), restarts=48)]),
        *(log("ebs-csi-node-h69mt", line, "kube-system", "ebs-plugin") for line in lines)])
    crash = only(found, "crash-loop")
    assert lines[2] in [item.text for item in crash.evidence], "the final error line names what to set (AWS_REGION)"


NCCL_SHM = [  # NCCL 2.18 with NCCL_DEBUG=INFO in a container whose /dev/shm is the runtime's 64M
    "trainer-0:58:131 [0] NCCL INFO Channel 00/24 :    0   1   2   3   4   5   6   7",
    "trainer-0:58:131 [0] include/shm.h:28 NCCL WARN Call to posix_fallocate failed : No space left on device",
    "trainer-0:58:131 [0] include/shm.h:48 NCCL WARN Error while creating shared memory segment /dev/shm/nccl-HzhzRQ "
    "(size 9637888)",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1331, "
    "unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.18.1",
]


@pytest.mark.parametrize("shm, note", [(None, "mounts nothing at /dev/shm"), ("8Gi", "its /dev/shm: emptyDir Memory, sizeLimit 8Gi")])
def test_nccl_failing_to_allocate_in_dev_shm_is_the_shm_size_not_a_full_disk(shm: str | None, note: str) -> None:
    records = [pod("trainer-0", "ml", phase="Failed", containers=[container(terminated=("Error", 1))], gpus=8, shm=shm)]
    records += [log("trainer-0", line, "ml") for line in NCCL_SHM]
    found = diagnose(records)
    failed = only(found, "container-failed")
    assert "/dev/shm is too small" in failed.cause and note in failed.cause
    assert "disk is full" not in failed.cause, "posix_fallocate in /dev/shm says 'No space left', yet no disk is full"
    assert not [f for f in found if f.rule == "disk-full"]
    assert any("Error while creating shared memory segment" in item.text for item in failed.evidence)
    assert not any("Channel 00/24" in item.text for item in failed.evidence), "an INFO line beside two NCCL warnings"


def test_a_gpu_without_kernels_in_the_image_names_its_compute_capability_from_the_start_up_warning() -> None:
    warning = ("/usr/local/lib/python3.11/site-packages/torch/cuda/__init__.py:209: UserWarning: Tesla T4 with CUDA "
               "capability sm_75 is not compatible with the current PyTorch installation.")
    found = diagnose([
        pod("caption-1", "ml", containers=[container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 3), restarts=6)]),
        log("caption-1", "INFO:     Started server process [1]", "ml"),
        log("caption-1", warning, "ml"),
        log("caption-1", "The current PyTorch install supports CUDA capabilities sm_80 sm_86 sm_89 sm_90.", "ml"),
        log("caption-1", "RuntimeError: CUDA error: no kernel image is available for execution on the device", "ml"),
        log("caption-1", "ERROR:    Application startup failed. Exiting.", "ml"),
    ])
    finding = only(found, "crash-loop")
    assert "no kernels for this node's GPU architecture" in finding.cause
    assert any("sm_75" in item.text for item in [*finding.evidence, *finding.startup])


def test_a_producer_refused_for_too_few_in_sync_replicas_names_min_insync_replicas() -> None:
    line = ("2026-03-14 11:02:20,529 WARN  [kafka-producer-network-thread | collector-3] "
            "o.a.k.c.producer.internals.Sender - [Producer clientId=collector-3] Got error produce response with "
            "correlation id 80631 on topic-partition clicks-8, retrying (2147483646 attempts left). Error: NOT_ENOUGH_REPLICAS")
    found = diagnose([pod("collector-1", "web", containers=[container(ready=True)]), log("collector-1", line, "web")])
    finding = only(found, "kafka-not-enough-replicas")
    assert "min.insync.replicas" in finding.cause and finding.evidence[0].text == line


def test_an_oom_killed_container_names_its_memory_limit() -> None:
    found = diagnose([pod("kyverno-1", "policy", memory="384Mi",
                          containers=[container("app", waiting=("CrashLoopBackOff", "back-off"), last=("OOMKilled", 137),
                                                restarts=11)])])
    assert only(found, "oom-killed").cause.endswith("at its memory limit (384Mi)")
    healthy = render_pod({"metadata": {"name": "web-1", "namespace": "web"},
                          "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "2Gi"}}}]},
                          "status": {"phase": "Running"}})
    assert "2Gi" not in healthy, "a pod that was never OOMKilled keeps its memory limit out of its summary"


def test_a_container_killed_by_its_liveness_probe_without_errors_quotes_what_it_was_doing() -> None:
    migrating = ('2026-03-14T11:59:02.117Z  INFO 1 --- [main] o.f.core.internal.command.DbMigrate : Migrating schema '
                 '"public" to version "57 - backfill entry hashes"')
    found = diagnose([
        pod("ledger-1", "fin", containers=[container(restarts=4, ready=False)]),
        log("ledger-1", "2026-03-14T11:58:40.001Z  INFO 1 --- [main] o.f.c.i.s.DbValidate : Successfully validated 57 "
            "migrations", "fin"),
        log("ledger-1", migrating, "fin"),
        event("Pod", "ledger-1", "fin", "Unhealthy", 'Liveness probe failed: Get "http://10.0.0.9:8080/actuator/health/'
              'liveness": dial tcp 10.0.0.9:8080: connect: connection refused'),
        event("Pod", "ledger-1", "fin", "Killing", "Container app failed liveness probe, will be restarted", warning=False),
    ])
    finding = only(found, "liveness-probe")
    assert "57 - backfill entry hashes" in finding.cause and finding.evidence[1].text == migrating, "quoted second"
    assert "it was in the middle of a Flyway schema migration" in finding.cause


@pytest.mark.parametrize(("line", "doing"), [
    ("INFO  [alembic.runtime.migration] Running upgrade 3f2a9c1d7e4b -> 9b8c7d6e5f4a, add invoice index",
     "an Alembic schema migration"),
    ("  Applying billing.0042_backfill_invoice_totals...", "a Django schema migration"),
    ("== 20260314101500 AddIndexToOrders: migrating =================================", "a Rails schema migration"),
    ("INFO liquibase.changelog : Running Changeset: db/changelog/057.xml::57::ledger", "a Liquibase schema migration"),
    ("Fetching 4 files:  25%|██▌       | 1/4 [00:41<02:03, 41.2s/it]", "a download (model or data)"),
    ("INFO 1 --- [main] c.e.ledger.Application : Started Application in 4.2 seconds", None),
])
def test_what_a_program_is_busy_with_by_its_tools_lines(line: str, doing: str | None) -> None:
    from kubetrainer.diagnose.pods import busy_with

    assert busy_with(line) == doing


def test_a_repeated_event_says_since_when_and_finds_the_change_just_before_its_first_occurrence() -> None:
    missing = "failed to get cpu utilization: missing request for cpu in container app of Pod query-api-9gd5q2x6kc-jrbcz"
    found = diagnose([
        pod("query-api-9gd5q2x6kc-jrbcz", "search", containers=[container(ready=True)]),
        event("Deployment", "query-api", "search", "ScalingReplicaSet", "Scaled up replica set query-api-9gd5q2x6kc to 3",
              warning=False, ts="2026-03-14T09:40:02Z"),
        event("HorizontalPodAutoscaler", "query-api", "search", "FailedGetResourceMetric", missing, count=312,
              first="2026-03-14T09:41:07Z", ts="2026-03-14T11:59:48Z"),
    ])
    finding = only(found, "hpa-metrics")
    assert finding.evidence[0].since == "2026-03-14T09:41:07Z" and finding.evidence[0].ts == "2026-03-14T11:59:48Z"
    assert [item.text for item in finding.changes] == ["ScalingReplicaSet: Scaled up replica set query-api-9gd5q2x6kc to 3"]
    assert finding.changes[0].about == "its pods run registry.example.com/app:1.0", "the release the rollout brought"
    text = compose([finding], Sources([])).text
    assert "(first seen 2026-03-14 09:41 UTC)" in text and "09:40 UTC, query-api" in text
    assert "its pods run registry.example.com/app:1.0" in text


def test_the_api_servers_etcd_timeouts_are_explained_by_the_etcd_members_slow_disk():
    """kube-apiserver's `etcdserver: request timed out` <- the etcd member that logs slow WAL syncs, in kube-system."""
    found = diagnose([
        log("kube-apiserver-cp-1", 'E0314 11:21:41.646205 1 status.go:71] apiserver received an error that is not an '
            'metav1.Status: rpctypes.EtcdError{code:0xe, desc:"etcdserver: request timed out"}', "kube-system"),
        log("etcd-cp-2", '{"level":"warn","ts":"2026-03-14T11:21:40.118Z","caller":"wal/wal.go:805","msg":"slow '
            'fdatasync","took":"2.418620145s","expected-duration":"1s"}', "kube-system", "etcd"),
    ])
    slow = only(found, "etcd-slow-disk")
    assert slow.name == "etcd-cp-2" and slow.id in only(found, "etcd-slow").related


def test_a_thermal_slowdown_that_is_not_active_is_no_finding():
    """nvidia-smi -q lists every clock event reason, active or not: only an active one is a finding."""
    lines = ["    Clocks Event Reasons", "        HW Thermal Slowdown               : Not Active",
             "        SW Thermal Slowdown               : Not Active"]
    assert not [f for f in diagnose([log("smi-1", line) for line in lines]) if f.rule == "gpu-thermal-slowdown"]


def test_an_active_thermal_slowdown_names_the_gpu_whose_nvidia_smi_section_it_is_in():
    """nvidia-smi -q: a header line per GPU (its PCI bus id), the clock event reasons indented below it."""
    lines = ["==============NVSMI LOG==============", "GPU 00000000:9A:00.0", "    Clocks Event Reasons",
             "        HW Thermal Slowdown               : Not Active", "GPU 00000000:AB:00.0",
             "    Clocks Event Reasons", "        HW Thermal Slowdown               : Active",
             "    Temperature", "        GPU Current Temp                  : 89 C"]
    hot = only(diagnose([log("smi-1", line, ts=f"2026-03-14T11:00:{i:02d}Z") for i, line in enumerate(lines)]),
               "gpu-thermal-slowdown")
    assert [item.about for item in hot.evidence] == ["GPU 00000000:AB:00.0"]
    assert '"HW Thermal Slowdown               : Active" [1] (GPU 00000000:AB:00.0)' in compose([hot], Sources([])).text


def test_a_long_error_quoted_in_a_cause_is_cut_between_words_never_inside_one():
    from kubetrainer.diagnose.collect import clipped

    helm = ('Error: UPGRADE FAILED: unable to build kubernetes objects from new release manifest: resource mapping not '
            'found for name: "partner-sync" namespace: "partner-sync" from "": no matches for kind "ServiceMonitor" in '
            'version "monitoring.coreos.com/v1"')
    assert clipped("short", 240) == "short"
    cut = clipped(helm, helm.index("ServiceMonitor") + len("Service"))
    assert cut.endswith("no matches for kind…") and helm.startswith(cut[:-1]), "not `kind \"Service`"
    long = "coalesce.go:289: warning: cannot overwrite table with non table for partner-sync.podAnnotations; " + helm
    failed = pod("release-1931-6j4gw", "sync", phase="Failed", containers=[container("helm", terminated=("Error", 1))])
    finding = next(f for f in diagnose([failed, log("release-1931-6j4gw", long, "sync", "helm")])
                   if f.name == "release-1931-6j4gw")
    assert "…" in finding.cause and 'kind "Service"' not in finding.cause


def test_a_related_findings_quote_keeps_what_its_line_names_only_by_id():
    lines = ["GPU 00000000:AB:00.0", "    Clocks Event Reasons", "        HW Thermal Slowdown               : Active"]
    hot = only(diagnose([log("smi-1", line, ts=f"2026-03-14T11:00:{i:02d}Z") for i, line in enumerate(lines)]),
               "gpu-thermal-slowdown")
    lead = Finding("crash-loop", "warning", "Pod", "web", "train-1", "keeps crashing", "m", "f", ("crash",))
    text = compose([lead, hot], Sources([])).text
    assert '  "HW Thermal Slowdown               : Active" [1] (GPU 00000000:AB:00.0)' in text


def test_a_launchers_report_that_its_child_failed_is_not_the_cause_the_childs_exception_is():
    lines = ["[rank0]: Traceback (most recent call last):", "[rank0]:     cfg = load(path)",
             "[rank0]: ValueError: lora.rank must be a power of two, got 12",
             "E0314 10:12:31.294691 1 torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: 1) "
             "local_rank: 0 (pid: 61) of binary: /opt/conda/bin/python",
             "Traceback (most recent call last):", "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: "]
    found = diagnose([pod("lora-0-26swz", "ml", phase="Failed", containers=[container(terminated=("Error", 1))]),
                      *[log("lora-0-26swz", line, "ml") for line in lines]])
    finding = only(found, "container-failed")
    assert 'it logs "[rank0]: ValueError: lora.rank must be a power of two, got 12"' in finding.cause


def test_rocm_without_access_to_its_devices_is_named_with_the_user_it_ran_as():
    lines = ["entrypoint: running as uid=1000(trainer) gid=1000(trainer) groups=1000(trainer)",
             "Unable to open /dev/kfd read-write: Permission denied",
             'trainer is not member of "render" group, the default DRM access group. Users must be a member of the '
             '"render" group or another DRM access group in order for ROCm applications to run successfully.',
             "[rank0]: RuntimeError: No HIP GPUs are available",
             "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: "]
    found = diagnose([pod("lora-0-4z66h", "ml", phase="Failed", containers=[container(terminated=("Error", 1))]),
                      *[log("lora-0-4z66h", line, "ml") for line in lines]])
    finding = only(found, "container-failed")
    assert "the ROCm runtime cannot open the AMD GPU devices" in finding.cause
    assert "Unable to open /dev/kfd read-write: Permission denied" in finding.cause
    assert "supplementalGroups" in finding.fix
    assert any("uid=1000(trainer)" in item.text for item in finding.startup)


def test_an_inference_server_aborting_requests_its_client_gave_up_on_is_not_said_to_fail():
    lines = [f"INFO 03-14 10:{minute:02d}:02 engine.py:291] Aborted request chatcmpl-5f0c{minute:02d}a1b2c3d4e5f6."
             for minute in range(18, 24)]
    found = diagnose([pod("report-writer-vllm-c69s-tmllj", "docs", containers=[container(ready=True)]),
                      *[log("report-writer-vllm-c69s-tmllj", line, "docs") for line in lines]])
    finding = only(found, "llm-request-aborted")
    assert "client (or a proxy in front of it) disconnected" in finding.cause and "(6 times)" in finding.cause
    assert "proxy-read-timeout" in finding.fix


def test_a_signature_inside_a_multi_line_entry_quotes_the_error_line_that_began_the_entry():
    # Airflow's KubernetesExecutor logs the pod it could not create, the traceback and the API's answer as one entry
    entry = ["[2026-03-14T10:00:02.586+0000] {kubernetes_executor_utils.py:459} ERROR - Exception when attempting to "
             "create Namespaced Pod: {", '    "namespace": "reporting"', "}", "Traceback (most recent call last):",
             "kubernetes.client.exceptions.ApiException: (403)", "Reason: Forbidden",
             'HTTP response body: {"kind":"Status","message":"pods is forbidden: User \\"system:serviceaccount:airflow:'
             'scheduler\\" cannot create resource \\"pods\\" in API group \\"\\" in the namespace \\"reporting\\"",'
             '"reason":"Forbidden","code":403}',
             "[2026-03-14T10:00:02.588+0000] {kubernetes_executor.py:415} INFO - re-queueing the task"]
    found = diagnose([pod("scheduler-1", "airflow"), *(log("scheduler-1", line, "airflow") for line in entry)])
    finding = only(found, "rbac-forbidden")
    assert [item.text for item in finding.evidence[:2]] == [entry[0], entry[6]]
    plain = diagnose([pod("scheduler-1", "airflow"), *(log("scheduler-1", line, "airflow") for line in entry[5:])])
    assert only(plain, "rbac-forbidden").evidence[0].text == entry[6], "an entry begun by an ordinary line adds nothing"
