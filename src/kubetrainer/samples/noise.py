"""Routine log lines: the heavy normal noise a real cluster's containers print.

Each style is one kind of application (a web server, a JSON-logging API, a
training loop...) and writes its own realistic timestamp format, so readers are
tested on the formats they will meet. Occasional benign warnings are included:
real noise is not all INFO lines, and retrieval must still find the incidents.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime

LineMaker = Callable[[random.Random, datetime], str]

_PATHS = ["/", "/api/v1/products", "/api/v1/cart", "/api/v1/orders", "/static/app.js", "/static/main.css", "/healthz", "/metrics", "/api/v1/search"]
_AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "kube-probe/1.30", "Prometheus/2.51.0", "curl/8.5.0", "python-requests/2.32.3"]
_SERVICES = ["kubernetes.default.svc.cluster.local.", "postgres.data.svc.cluster.local.", "redis.web.svc.cluster.local.", "api.github.com."]


def iso(ts: datetime, digits: int = 3) -> str:
    """RFC 3339 UTC with a fixed number of fraction digits (0 to 6)."""
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{ts.microsecond:06d}"[:digits]
    return text + "Z"


def _ip(rng: random.Random) -> str:
    return f"10.244.{rng.randint(0, 7)}.{rng.randint(2, 250)}"


def nginx_access(rng: random.Random, ts: datetime) -> str:
    status = rng.choices([200, 200, 200, 304, 301, 404, 499], k=1)[0]
    query = f"?page={rng.randint(1, 40)}" if rng.random() < 0.3 else ""
    return (
        f'{_ip(rng)} - - [{ts.strftime("%d/%b/%Y:%H:%M:%S +0000")}] '
        f'"{rng.choice(["GET", "GET", "GET", "POST"])} {rng.choice(_PATHS)}{query} HTTP/1.1" {status} '
        f'{rng.randint(120, 48000)} "-" "{rng.choice(_AGENTS)}" {rng.randint(1, 900) / 1000:.3f}'
    )


def json_api(rng: random.Random, ts: datetime) -> str:
    if rng.random() < 0.01:
        return json.dumps({"ts": iso(ts), "level": "warn", "msg": "slow request", "path": rng.choice(_PATHS), "duration_ms": rng.randint(900, 2500)})
    return json.dumps(
        {
            "ts": iso(ts),
            "level": "info",
            "msg": rng.choice(["request completed", "request completed", "cache hit", "cache miss", "session refreshed"]),
            "path": rng.choice(_PATHS),
            "status": rng.choice([200, 200, 201, 204]),
            "duration_ms": rng.randint(1, 180),
            "request_id": f"{rng.getrandbits(64):016x}",
        }
    )


def python_worker(rng: random.Random, ts: datetime) -> str:
    stamp = ts.strftime("%Y-%m-%d %H:%M:%S,") + f"{ts.microsecond // 1000:03d}"
    choice = rng.random()
    if choice < 0.6:
        return f"{stamp} INFO worker: processed batch {rng.randint(1, 99999)} ({rng.randint(50, 500)} records) in {rng.randint(20, 3000) / 1000:.2f}s"
    if choice < 0.9:
        return f"{stamp} INFO queue: {rng.randint(0, 300)} messages waiting, {rng.randint(1, 8)} consumers"
    if choice < 0.995:
        return f"{stamp} DEBUG heartbeat ok seq={rng.randint(1, 10**6)}"
    return f"{stamp} WARNING retrying upstream call after timeout (attempt {rng.randint(1, 3)}/5)"


def training_loop(rng: random.Random, ts: datetime) -> str:
    step = rng.randint(1, 50000)
    if rng.random() < 0.97:
        return (
            f"[{iso(ts, 0)}] INFO step {step}/50000 loss={rng.uniform(1.2, 3.5):.4f} "
            f"lr={rng.uniform(1e-5, 3e-4):.2e} grad_norm={rng.uniform(0.1, 2.0):.3f} tokens/s={rng.randint(8000, 14000)}"
        )
    return f"[{iso(ts, 0)}] INFO checkpoint saved to /checkpoints/step-{step} ({rng.randint(200, 900)} MiB)"


def coredns(rng: random.Random, ts: datetime) -> str:
    name = rng.choice(_SERVICES)
    return (
        f'[INFO] {_ip(rng)}:{rng.randint(30000, 60000)} - {rng.randint(1, 65535)} "{rng.choice(["A", "AAAA"])} IN {name} udp '
        f'{rng.randint(40, 90)} false 512" NOERROR qr,aa,rd {rng.randint(90, 200)} {rng.randint(50, 900) / 1e6:.6f}s'
    )


def klog_controller(rng: random.Random, ts: datetime) -> str:
    head = f"I{ts.strftime('%m%d %H:%M:%S')}.{ts.microsecond:06d}       1 "
    return head + rng.choice(
        [
            f'reconciler.go:{rng.randint(100, 400)}] "Reconciled object" kind="Deployment" generation={rng.randint(1, 90)}',
            f'leaderelection.go:281] successfully renewed lease kube-system/{rng.choice(["kube-controller-manager", "cert-manager-controller"])}',
            f'round_trippers.go:553] GET https://10.96.0.1:443/api/v1/namespaces?limit={rng.randint(100, 500)} 200 OK in {rng.randint(1, 40)} milliseconds',
        ]
    )


def gpu_exporter(rng: random.Random, ts: datetime) -> str:
    return (
        f'time="{iso(ts, 0)}" level=info msg="Collected metrics" gpu={rng.randint(0, 7)} '
        f"util={rng.randint(0, 100)} mem_used_mib={rng.randint(1000, 79000)} temp_c={rng.randint(35, 78)} power_w={rng.randint(60, 400)}"
    )


def redis_server(rng: random.Random, ts: datetime) -> str:
    stamp = ts.strftime("%d %b %Y %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
    return f"1:M {stamp} * " + rng.choice(
        [
            f"{rng.randint(1, 1000)} changes in {rng.choice([60, 300])} seconds. Saving...",
            "Background saving started by pid 42",
            "DB saved on disk",
            "Background saving terminated with success",
        ]
    )


STYLES: dict[str, LineMaker] = {
    "nginx": nginx_access,
    "json-api": json_api,
    "worker": python_worker,
    "training": training_loop,
    "coredns": coredns,
    "controller": klog_controller,
    "gpu-exporter": gpu_exporter,
    "redis": redis_server,
}
