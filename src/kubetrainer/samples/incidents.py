"""Incidents planted in the sample cluster, each with the questions an on-call engineer would ask.

Every incident breaks real objects the way Kubernetes reports it (container
states, conditions, events, log lines) and records `Question`s whose evidence
names the object and a phrase the relevant chunk must contain. Questions are
phrased the way people ask, not copied from the log text.
"""

from __future__ import annotations

from datetime import timedelta

from kubetrainer.samples.model import NOW, Evidence, SampleCluster, SamplePod
from kubetrainer.samples.noise import iso
from kubetrainer.samples.secrets import FakeSecrets
from kubetrainer.samples.workloads import WORKLOADS


def ago(minutes: float):
    return NOW - timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return ago(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def workload(namespace: str, name: str):
    return next(w for w in WORKLOADS if w.namespace == namespace and w.name == name)


def _terminated(reason: str, exit_code: int, minutes: float) -> dict:
    return {"terminated": {"reason": reason, "exitCode": exit_code, "startedAt": stamp(minutes + 3), "finishedAt": stamp(minutes)}}


def _waiting(reason: str, message: str) -> dict:
    return {"waiting": {"reason": reason, "message": message}}


def oom_killed(cluster: SampleCluster) -> None:
    pod = cluster.pods_of("ml-training", "feature-extractor")[0]
    app = pod.containers[0]
    app.restarts, app.ready = 7, False
    app.state = _waiting("CrashLoopBackOff", f"back-off 5m0s restarting failed container=app pod={pod.name}")
    app.last_state = _terminated("OOMKilled", 137, 4)
    for minutes, used in ((20, 6.1), (12, 7.2), (6, 7.9)):
        app.lines.append((ago(minutes), f"{ago(minutes):%Y-%m-%d %H:%M:%S},000 WARNING extractor: resident memory {used:.1f}GiB of 8GiB limit while loading embedding shard"))
    cluster.event(("Pod", pod.namespace, pod.name), "BackOff", f"Back-off restarting failed container app in pod {pod.name}_{pod.namespace}({pod.uid})", ago(2), warning=True, count=41, host=pod.node, first=ago(180))
    evidence = Evidence(pod.namespace, pod.name, "OOMKilled")
    cluster.ask("oom-1", "Why does the feature extractor in ml-training keep restarting?", "Its container is OOMKilled (exit 137) at the 8GiB memory limit while loading embedding shards.", "oom", evidence, facts=("OOM|out of memory", "8Gi|8 GiB|memory limit"))
    cluster.ask("oom-2", "Is the feature-extractor pod hitting its memory limit?", "Yes: last termination reason OOMKilled, exit code 137.", "oom", evidence, facts=("OOMKilled|OOM", "137"))


def crashloop_bad_config(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    from kubetrainer.samples.cluster import add_pods

    (pod,) = add_pods(cluster, workload("web", "checkout-api"), 1, image="registry.example.com/shop/checkout-api:3.9.0")
    app = pod.containers[0]
    app.restarts, app.ready, app.noise = 12, False, False
    app.state = _waiting("CrashLoopBackOff", f"back-off 5m0s restarting failed container=app pod={pod.name}")
    app.last_state = _terminated("Error", 1, 1)
    app.env = [{"name": "DB_HOST", "value": "postgres.data.svc"}, {"name": "DB_PASSWORD", "value": secrets.env_password}]
    app.lines += [
        (ago(1.05), f'{{"ts":"{iso(ago(1.05))}","level":"info","msg":"checkout-api 3.9.0 starting","env":"DB_HOST=postgres.data.svc DB_PASSWORD={secrets.env_password}"}}'),
        (ago(1.04), f'{{"ts":"{iso(ago(1.04))}","level":"fatal","msg":"invalid configuration: payments.timeout in /etc/checkout/config.yaml: \\"30 seconds\\" is not a valid duration (want e.g. 30s)"}}'),
    ]
    cluster.event(("Pod", pod.namespace, pod.name), "BackOff", f"Back-off restarting failed container app in pod {pod.name}_{pod.namespace}({pod.uid})", ago(1), warning=True, count=58, host=pod.node, first=ago(50))
    evidence = Evidence(pod.namespace, pod.name, "not a valid duration")
    cluster.ask("config-1", "The new checkout release crashes right after it starts. What's wrong with it?", "checkout-api 3.9.0 exits at start-up: payments.timeout in /etc/checkout/config.yaml is '30 seconds', not a valid duration.", "crashloop", evidence, facts=("payments.timeout", "not a valid duration|invalid duration|30 seconds"))
    cluster.ask("config-2", "Did someone break the checkout config?", "Yes: payments.timeout is set to '30 seconds'; the service wants a duration like 30s.", "crashloop", evidence, facts=("payments.timeout", "30 seconds"))


def image_pull(cluster: SampleCluster) -> None:
    from kubetrainer.samples.cluster import add_pods

    image = "registry.example.com/data/etl-runner:2.3.9-rc1"
    (pod,) = add_pods(cluster, workload("data", "etl-runner"), 1, image=image)
    app = pod.containers[0]
    app.ready, app.noise = False, False
    app.state = _waiting("ImagePullBackOff", f'Back-off pulling image "{image}"')
    ref = ("Pod", pod.namespace, pod.name)
    cluster.event(ref, "Failed", f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": not found', ago(3), warning=True, count=9, host=pod.node, first=ago(40))
    cluster.event(ref, "Failed", "Error: ErrImagePull", ago(3), warning=True, count=9, host=pod.node)
    cluster.ask("image-1", "The ETL rollout is stuck. Is something wrong with the image we pushed?", "The tag registry.example.com/data/etl-runner:2.3.9-rc1 does not exist (NotFound), so the pod is in ImagePullBackOff.", "image-pull", Evidence(pod.namespace, pod.name, "Failed to pull image"), facts=("2.3.9-rc1", "not found|NotFound|does not exist|doesn't exist"))


def failing_probe(cluster: SampleCluster) -> None:
    for pod in cluster.pods_of("inference", "llm-gateway"):
        pod.conditions = {"Ready": "False", "ContainersReady": "False"}
        app = pod.containers[0]
        app.ready = False
        for minutes in (30, 17, 4):
            app.lines.append((ago(minutes), f'{{"ts":"{iso(ago(minutes))}","level":"error","msg":"upstream vllm-server.inference.svc:8000 unavailable: connection refused; answering /ready with 503"}}'))
        cluster.event(("Pod", pod.namespace, pod.name), "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", ago(1), warning=True, count=212, host=pod.node, first=ago(35))
    pod = cluster.pods_of("inference", "llm-gateway")[0]
    cluster.ask("probe-1", "Why is the LLM gateway not getting any traffic from its service?", "Its readiness probe fails with HTTP 503 because its upstream vllm-server refuses connections, so the pods are not Ready.", "probe", Evidence(pod.namespace, pod.name, "Readiness probe failed"), facts=("readiness|not ready", "vllm-server|upstream"))


def unbound_pvc(cluster: SampleCluster) -> None:
    pod = cluster.pods_of("data", "postgres")[0]
    claim = f"data-{pod.name}"
    cluster.unschedule(pod)
    pod.claims = [claim]
    total = len(cluster.nodes)
    cluster.event(("Pod", pod.namespace, pod.name), "FailedScheduling", f"0/{total} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.", ago(2), warning=True, count=33, component="default-scheduler", first=ago(70))
    cluster.event(("PersistentVolumeClaim", pod.namespace, claim), "ProvisioningFailed", 'storageclass.storage.k8s.io "fast-ssd" not found', ago(2), warning=True, count=280, component="persistentvolume-controller", first=ago(70))
    cluster.ask("pvc-1", "Postgres in the data namespace has been pending for over an hour. Is it a storage problem?", f'Yes: its claim {claim} is unbound because the storage class "fast-ssd" does not exist.', "pvc", Evidence(pod.namespace, claim, "fast-ssd"), Evidence(pod.namespace, pod.name, "unbound"), facts=("fast-ssd", "storage class|storageclass"))


def cuda_oom(cluster: SampleCluster) -> None:
    pod = cluster.pods_of("ml-training", "llama-finetune")[0]
    pod.phase = "Failed"
    app = pod.containers[0]
    app.ready = False
    app.state = _terminated("Error", 1, 95)
    trace = [
        "Traceback (most recent call last):",
        '  File "/app/train.py", line 214, in <module>',
        "    main()",
        '  File "/app/train.py", line 188, in main',
        "    loss = model(**batch).loss",
        '  File "/usr/local/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1736, in _wrapped_call_impl',
        "    return self._call_impl(*args, **kwargs)",
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 79.14 GiB of which 1.21 GiB is free. "
        "Of the allocated memory 75.10 GiB is allocated by PyTorch, and 1.52 GiB is reserved by PyTorch but unallocated."),
    ]
    app.lines.append((ago(96), f"[{iso(ago(96), 0)}] INFO raising micro-batch size to 16 (sequence length 4096)"))
    app.lines += [(ago(95.5), line) for line in trace]
    cluster.event(("Job", pod.namespace, "llama-finetune"), "BackoffLimitExceeded", "Job has reached the specified backoff limit", ago(95), warning=True, component="job-controller")
    evidence = Evidence(pod.namespace, pod.name, "CUDA out of memory")
    cluster.ask("cuda-1", "My llama fine-tuning job died. What happened?", "The trainer ran out of GPU memory (torch.OutOfMemoryError) after the micro-batch size was raised to 16 at sequence length 4096.", "cuda-oom", evidence, facts=("out of memory|OutOfMemoryError", "batch"))
    cluster.ask("cuda-2", "Did the fine-tune run out of GPU memory?", "Yes: CUDA out of memory while allocating 2.50 GiB on an 80 GB GPU.", "cuda-oom", evidence, facts=("out of memory|OutOfMemoryError", "2.5"))


def dns_failure(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    pod = cluster.pods_of("web", "notification-worker")[0]
    app = pod.containers[0]
    app.lines.append((ago(200), f"{ago(200):%Y-%m-%d %H:%M:%S},000 INFO mailer: connecting to smtp://notify:{secrets.url_password}@smtp.mail-relay.svc.cluster.local:587"))
    for minutes in range(180, 0, -15):
        app.lines.append((ago(minutes), f"{ago(minutes):%Y-%m-%d %H:%M:%S},000 ERROR mailer: send failed: dial tcp: lookup smtp.mail-relay.svc.cluster.local on 10.96.0.10:53: no such host"))
    cluster.ask("dns-1", "Customers say order confirmation emails stopped arriving. What's broken?", "The notification worker cannot resolve smtp.mail-relay.svc.cluster.local (DNS: no such host), so sends fail.", "dns", Evidence(pod.namespace, pod.name, "no such host"), facts=("smtp.mail-relay", "no such host|DNS|resolve"))


def expired_certificate(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    manager = cluster.pods_of("cert-manager", "cert-manager")[0]
    manager.containers[0].env = [{"name": "TLS_KEY", "value": secrets.private_key_block}]
    head = f"E{ago(300):%m%d %H:%M:%S}.000000       1 "
    manager.containers[0].lines += [
        (ago(300), head + 'controller.go:167] "re-queuing item due to error processing" err="failed to renew certificate web/shop-tls: acme: authorization for shop.example.com failed: 403 urn:ietf:params:acme:error:unauthorized"'),
        (ago(299), f"I{ago(299):%m%d %H:%M:%S}.000000       1 token.go:88] refreshed service account token {secrets.jwt}"),
    ]
    catalog = cluster.pods_of("web", "catalog-api")[0]
    catalog.containers[0].lines.append((ago(25), f'{{"ts":"{iso(ago(25))}","level":"error","msg":"GET https://shop.example.com/api/v1/inventory failed: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time {stamp(25)} is after 2026-03-14T00:00:00Z"}}'))
    cluster.ask("cert-1", "Shoppers get TLS warnings on the shop website since last night. Why?", "The shop.example.com certificate (web/shop-tls) expired at midnight: cert-manager's ACME renewal fails with 403 unauthorized.", "certificate", Evidence("cert-manager", manager.name, "failed to renew certificate"), Evidence("web", catalog.name, "certificate has expired"), facts=("expired", "403|unauthorized|renew"))


def node_pressure(cluster: SampleCluster) -> None:
    victim = cluster.pods_of("data", "kafka-consumer")[-1]
    name = victim.node
    node = cluster.node_named(name)
    for condition in node["status"]["conditions"]:
        if condition["type"] == "MemoryPressure":
            condition.update(status="True", reason="KubeletHasInsufficientMemory", message="kubelet has insufficient memory available", lastTransitionTime=stamp(45))
    cluster.event(("Node", None, name), "EvictionThresholdMet", "Attempting to reclaim memory", ago(44), warning=True, count=6, host=name)
    victim.phase, victim.reason = "Failed", "Evicted"
    victim.message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 61244Ki. Container app was using 5832Mi, request is 512Mi, has larger consumption of memory."
    victim.containers[0].state = _terminated("ContainerStatusUnknown", 137, 43)
    victim.containers[0].ready = False
    cluster.event(("Pod", victim.namespace, victim.name), "Evicted", victim.message, ago(43), warning=True, host=name)
    cluster.ask("pressure-1", "Which node is short on memory and kicking pods off?", f"{name} reports MemoryPressure and evicted {victim.namespace}/{victim.name}.", "node-pressure", Evidence(None, name, "MemoryPressure"), Evidence(victim.namespace, victim.name, "low on resource: memory"), facts=(name, "MemoryPressure|memory pressure|low on memory"))


def node_not_ready(cluster: SampleCluster) -> None:
    from kubetrainer.samples.cluster import is_ready

    node = next(n for n in cluster.nodes if not is_ready(n))
    name = node["metadata"]["name"]
    cluster.event(("Node", None, name), "NodeNotReady", f"Node {name} status is now: NodeNotReady", ago(130), warning=True, component="node-controller")
    cluster.ask("notready-1", "Is any node down right now?", f"{name} is NotReady: its kubelet stopped posting status.", "not-ready", Evidence(None, name, "NotReady"), facts=(name, "NotReady|not ready"))


def gpu_xid(cluster: SampleCluster) -> SamplePod:
    plugin = cluster.pods_of("kube-system", "nvidia-device-plugin-daemonset")[0]
    node = cluster.node_named(plugin.node)
    gpu_uuid = cluster.uid().replace("-", "")[:8]
    line = f'W{ago(70):%m%d %H:%M:%S}.412000       1 health.go:185] XidCriticalError: Xid=79 on Device=GPU-{gpu_uuid}-3 (GPU has fallen off the bus); marking device as unhealthy.'
    plugin.containers[0].lines.append((ago(70), line))
    allocatable = node["status"]["allocatable"]
    allocatable["nvidia.com/gpu"] = str(max(0, int(allocatable["nvidia.com/gpu"]) - 1))
    cluster.ask("xid-1", "Has any GPU hardware gone bad on the NVIDIA nodes?", f"Yes: a GPU on {plugin.node} hit Xid 79 (fell off the bus) and was marked unhealthy by the device plugin.", "gpu-xid", Evidence(plugin.namespace, plugin.name, "Xid=79"), facts=("Xid 79|Xid=79|fallen off the bus|fell off the bus", plugin.node))
    return plugin


def unschedulable_gpu(cluster: SampleCluster) -> None:
    from kubetrainer.samples.cluster import add_pods, gpu_vendor_of, is_ready

    (pod,) = add_pods(cluster, workload("ml-training", "ddp-pretrain"), 1)
    cluster.unschedule(pod)
    nvidia = sum(1 for n in cluster.nodes if gpu_vendor_of(n) == "nvidia" and is_ready(n))
    down = sum(1 for n in cluster.nodes if not is_ready(n))
    total = len(cluster.nodes)
    message = (
        f"0/{total} nodes are available: {nvidia} Insufficient nvidia.com/gpu, {down} node(s) had untolerated taint "
        f"{{node.kubernetes.io/unreachable: }}, {total - nvidia - down} node(s) didn't match Pod's node affinity/selector. "
        f"preemption: 0/{total} nodes are available: {nvidia} No preemption victims found for incoming pod."
    )
    cluster.event(("Pod", pod.namespace, pod.name), "FailedScheduling", message, ago(3), warning=True, count=57, component="default-scheduler", first=ago(240))
    evidence = Evidence(pod.namespace, pod.name, "Insufficient nvidia.com/gpu")
    cluster.ask("sched-1", "Why is the 8-GPU pretraining job still waiting to start?", "No node has 8 free NVIDIA GPUs: the scheduler reports Insufficient nvidia.com/gpu.", "unschedulable", evidence, facts=("Insufficient|not enough|no node",))
    cluster.ask("sched-2", "Is there enough GPU capacity for ddp-pretrain?", "No: every NVIDIA node lacks free nvidia.com/gpu for 8 GPUs.", "unschedulable", evidence, facts=("Insufficient|not enough|no node|lacks",))


def plant_log_secrets(cluster: SampleCluster, secrets: FakeSecrets) -> None:
    """Secrets in routine logs, where real ones leak: headers, credentials dumps, URLs."""
    def add(namespace: str, name: str, minutes: float, text: str) -> None:
        cluster.pods_of(namespace, name)[0].containers[0].lines.append((ago(minutes), text))

    add("web", "catalog-api", 150, f'{{"ts":"{iso(ago(150))}","level":"debug","msg":"outgoing request","headers":"Authorization: Bearer {secrets.bearer_token}"}}')
    add("data", "kafka-consumer", 240, f"{ago(240):%Y-%m-%d %H:%M:%S},000 INFO boto: using credentials AWS_ACCESS_KEY_ID={secrets.aws_access_key} AWS_SECRET_ACCESS_KEY={secrets.aws_secret_key}")
    add("inference", "vllm-server", 230, f'{{"ts":"{iso(ago(230))}","level":"debug","msg":"fallback provider configured","api_key":"{secrets.openai_key}"}}')
    add("monitoring", "grafana", 120, f'{{"ts":"{iso(ago(120))}","level":"info","msg":"sending alert notification","url":"{secrets.slack_webhook}"}}')
    add("data", "etl-runner", 330, f"{ago(330):%Y-%m-%d %H:%M:%S},000 INFO sync: git clone https://x-access-token:{secrets.github_token}@github.com/example/etl-jobs.git")
    add("web", "storefront", 90, f'10.244.3.17 - - [{ago(90):%d/%b/%Y:%H:%M:%S +0000}] "GET /maps/embed?key={secrets.google_api_key} HTTP/1.1" 200 812 "-" "Mozilla/5.0" 0.004')


def apply_all(cluster: SampleCluster) -> None:
    secrets = cluster.secrets
    plant_log_secrets(cluster, secrets)
    oom_killed(cluster)
    crashloop_bad_config(cluster, secrets)
    image_pull(cluster)
    failing_probe(cluster)
    unbound_pvc(cluster)
    cuda_oom(cluster)
    dns_failure(cluster, secrets)
    expired_certificate(cluster, secrets)
    node_pressure(cluster)
    node_not_ready(cluster)
    gpu_xid(cluster)
    unschedulable_gpu(cluster)
