"""Node agent throughput: a /var/log/pods tree of CRI files -> redacted JSONL records.

Ours: `kubetrainer-agent --once --output file:DIR` (parse CRI, join partials, redact with
the shared patterns, encode schema-v1 records, fsync, checkpoint). Baselines in the same
run on the same files: the project's Python reader (`kubetrainer.sources.cri`, which
redacts with `kubetrainer.redact`) writing JSONL, and rsyslog's `imfile` -> `omfile`, a
trusted shipper that only forwards the raw lines (no parsing, no redaction). Reported
per core (input MiB / CPU seconds of the process), with peak RSS and wall time.
Targets: >= 75 MiB/s per core, peak RSS < 20 MiB, release binary < 10 MB.
Each shipper runs BENCH_AGENT_RUNS times (default 3), the shippers interleaved; the table
shows the median run and the range. Every run of ours and of the Python reader must deliver
every message, or the benchmark fails; rsyslog (which does not join partials) is checked for
every line and a shortfall is reported in the table.
Writes bench/results/agent.{md,json,png}. BENCH_AGENT_MIB sets the workload size.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from rich.progress import Progress

from kubetrainer import atomic
from kubetrainer.sources.local_agent import agent_binary

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOAD_MIB = int(os.environ.get("BENCH_AGENT_MIB", "128"))
RUNS = int(os.environ.get("BENCH_AGENT_RUNS", "3"))
PODS, CONTAINERS = 40, 2
TARGET_MIB_S, TARGET_RSS_MIB, TARGET_BINARY_MB = 75.0, 20.0, 10.0

PYTHON_READER = """
import json, sys
from pathlib import Path
from kubetrainer.sources.base import Problems
from kubetrainer.sources.cri import read_pods_dir
with open(sys.argv[2], "w") as out:
    for record in read_pods_dir(Path(sys.argv[1]), Problems()):
        out.write(json.dumps(record) + "\\n")
"""

PROBE = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


@dataclass
class Run:
    name: str
    does: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    records: int

    def mib_per_core_s(self, input_bytes: int) -> float:
        return input_bytes / 2**20 / self.cpu_s

    def lines_per_core_s(self, lines: int) -> float:
        return lines / self.cpu_s


def log_line(rng: random.Random, i: int) -> str:
    """A realistic mix: klog, JSON, access logs, URLs, stack traces, and ~1% secrets."""
    roll = rng.random()
    if roll < 0.01:
        secret = rng.choice(
            ["password=hunter2-{i}", "Authorization: Bearer abcdef0123456789{i}", "AWS key AKIAIOSFODNN7EXAMPLE", "DATABASE_URL=postgres://app:pw{i}@db:5432/app"]
        )
        return f"connecting with {secret.format(i=i)}"
    if roll < 0.55:
        return f'I1129 04:31:07.{i % 999999:06d} 1 controller.go:{rng.randint(10, 900)}] Successfully synced "default/web-{i % 500}" in {rng.randint(1, 900)}ms'
    if roll < 0.80:
        return json.dumps({"level": "info", "msg": "request served", "method": "GET", "path": f"/api/v1/items/{i}", "status": 200, "latency_ms": round(rng.random() * 50, 2)})
    if roll < 0.92:
        return f'10.0.{i % 250}.{i % 200} - - [29/Nov/2026:04:31:07 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.30"'
    if roll < 0.97:
        return f"fetching https://registry.example.com/v2/library/app/manifests/sha256:{rng.getrandbits(128):032x} took {rng.randint(1, 90)}ms"
    return "Traceback (most recent call last): " + " | ".join(f'File "/app/worker.py", line {n}, in step{n}' for n in range(rng.randint(10, 30)))


def generate(pods_dir: Path, target_bytes: int) -> tuple[int, int, int]:
    """CRI files for PODS x CONTAINERS containers; returns (bytes, log messages, files)."""
    rng = random.Random(1129)
    handles = []
    for pod in range(PODS):
        for container in range(CONTAINERS):
            directory = pods_dir / f"team-{pod % 8}_worker-{pod}_{pod:08x}-0000-4000-8000-000000000000" / f"c{container}"
            directory.mkdir(parents=True)
            handles.append((directory / "0.log").open("w"))
    written = messages = 0
    while written < target_bytes:
        handle = handles[messages % len(handles)]
        stamp = f"2026-11-29T04:{messages // 600000 % 60:02d}:{messages // 10000 % 60:02d}.{messages % 1000000000:09d}Z"
        text = log_line(rng, messages)
        if rng.random() < 0.01:  # a long line the runtime split into a partial and a final part
            half = len(text) // 2
            chunk = f"{stamp} stdout P {text[:half]}\n{stamp} stdout F {text[half:]}\n"
        else:
            chunk = f"{stamp} {'stderr' if messages % 7 == 0 else 'stdout'} F {text}\n"
        handle.write(chunk)
        written += len(chunk.encode())
        messages += 1
    for handle in handles:
        handle.close()
    return written, messages, len(handles)


def measure(command: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of `command`, from a fresh parent so only it counts."""
    out = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]) / 1024


def count_lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                total += block.count(b"\n")
    return total


def run_agent(pods: Path, work: Path) -> Run:
    out = work / "agent-out"
    command = [str(agent_binary()), "--pods-dir", str(pods), "--state-dir", str(work / "agent-state"), "--output", f"file:{out}",
               "--once", "--telemetry-interval", "0", "--node-name", "bench"]
    wall, cpu, rss = measure(command)
    return Run("kubetrainer-agent", "parse, join partials, redact, schema-v1 JSON, fsync + checkpoint", wall, cpu, rss, count_lines(sorted(out.glob("*.jsonl"))))


def run_python(pods: Path, work: Path) -> Run:
    out = work / "python.jsonl"
    wall, cpu, rss = measure([sys.executable, "-c", PYTHON_READER, str(pods), str(out)])
    return Run("Python reader (kubetrainer.sources.cri)", "parse, join partials, redact, schema-v1 JSON", wall, cpu, rss, count_lines([out]))


def run_rsyslog(pods: Path, work: Path, expected_lines: int) -> Run:
    """rsyslogd in the foreground, imfile (inotify) -> omfile; done when every line arrived."""
    out, state = work / "rsyslog.out", work / "rsyslog-state"
    state.mkdir()
    config = work / "rsyslog.conf"
    config.write_text(
        f'global(workDirectory="{state}" maxMessageSize="64k")\n'
        'module(load="imfile" mode="inotify")\n'
        'template(name="raw" type="string" string="%rawmsg%\\n")\n'
        f'input(type="imfile" File="{pods}/*/*/*.log" Tag="pods" ruleset="out" addMetadata="off")\n'
        f'ruleset(name="out") {{ action(type="omfile" file="{out}" template="raw" asyncWriting="on" ioBufferSize="256k" flushOnTXEnd="off") }}\n'
    )
    start = time.perf_counter()
    process = subprocess.Popen(["rsyslogd", "-n", "-f", str(config), "-i", str(work / "rsyslog.pid")], stderr=subprocess.DEVNULL)
    watched = psutil.Process(process.pid)
    peak, lines, last_change, last_size = 0, 0, time.perf_counter(), -1
    try:
        while lines < expected_lines and time.perf_counter() - last_change < 20:
            time.sleep(0.2)
            peak = max(peak, watched.memory_info().rss)
            size = out.stat().st_size if out.exists() else 0
            if size != last_size:
                last_size, last_change = size, time.perf_counter()
                lines = count_lines([out])
        wall = time.perf_counter() - start
        times = watched.cpu_times()
        status = Path(f"/proc/{process.pid}/status").read_text()
        hwm_kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), peak // 1024)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return Run("rsyslog imfile -> omfile", "forward raw lines only (no parsing, no redaction)", wall, times.user + times.system, hwm_kib / 1024, count_lines([out]))


def report(runs: list[Run], spreads: list[list[float]], shortfalls: list[str], input_bytes: int, lines: int, messages: int, files: int, binary_mb: float) -> None:
    ours, *baselines = runs
    mib = input_bytes / 2**20
    rate = ours.mib_per_core_s(input_bytes)
    verdict = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731
    load = os.getloadavg()[0]
    delivered = (
        "every run delivered every record" if not shortfalls else "every run of ours and of the Python reader delivered every record, but " + "; ".join(shortfalls)
    )
    rows = [
        f"| {r.name} | {r.does} | {r.mib_per_core_s(input_bytes):.1f} ({mib / max(cpus):.1f}–{mib / min(cpus):.1f}) | {r.lines_per_core_s(lines):,.0f} | "
        f"{r.wall_s:.2f} | {r.peak_rss_mib:.1f} | {r.records:,} | {rate / r.mib_per_core_s(input_bytes):.1f}x |"
        for r, cpus in zip(runs, spreads)
    ]
    text = f"""## Node agent: CRI log files to redacted JSONL ({dt.date.today().isoformat()})

{input_bytes / 2**20:.0f} MiB of CRI logs ({lines:,} lines, {messages:,} messages incl. 1% split into partials, ~1% holding
secrets) in {files} files under a `/var/log/pods` tree, read by each shipper in the same run. Per core = input MiB
(or lines) per CPU second of the process (user + system), so the shared machine's load (load average {load:.1f}) hurts wall
time more than these figures. {len(spreads[0])} runs per shipper, interleaved: the median run, with the range of all runs in
brackets; {delivered} (all {messages:,} messages; rsyslog, which does not join partials, all
{lines:,} lines). `ours/x` is ours per core divided by that shipper's.
Targets: >= {TARGET_MIB_S:.0f} MiB/s per core: {verdict(rate >= TARGET_MIB_S)}; peak RSS < {TARGET_RSS_MIB:.0f} MiB:
{verdict(ours.peak_rss_mib < TARGET_RSS_MIB)}; release binary < {TARGET_BINARY_MB:.0f} MB: {verdict(binary_mb < TARGET_BINARY_MB)} ({binary_mb:.1f} MB).

| shipper | what it does | MiB/s per core (range) | lines/s per core | wall s | peak RSS MiB | records | ours/x |
|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    atomic.write_text(RESULTS / "agent.md", text)
    atomic.write_json(
        RESULTS / "agent.json",
        {
            "date": dt.date.today().isoformat(),
            "input_bytes": input_bytes,
            "lines": lines,
            "messages": messages,
            "files": files,
            "binary_mb": binary_mb,
            "load_average": load,
            "runs": [
                asdict(r) | {"mib_per_core_s": r.mib_per_core_s(input_bytes), "lines_per_core_s": r.lines_per_core_s(lines), "cpu_s_all_runs": cpus}
                for r, cpus in zip(runs, spreads)
            ],
            "targets": {"mib_per_core_s": TARGET_MIB_S, "peak_rss_mib": TARGET_RSS_MIB, "binary_mb": TARGET_BINARY_MB},
        },
    )
    plot(runs, input_bytes)
    print(text)


def plot(runs: list[Run], input_bytes: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (speed, memory) = plt.subplots(1, 2, figsize=(11, 3.2))
    names = [r.name for r in runs]
    speed.barh(names, [r.mib_per_core_s(input_bytes) for r in runs], color=["#2a7", "#888", "#57a"])
    speed.axvline(TARGET_MIB_S, color="red", linestyle="--", label=f"target {TARGET_MIB_S:.0f}")
    speed.set_xlabel("MiB/s per core (higher is better)")
    speed.legend()
    memory.barh(names, [r.peak_rss_mib for r in runs], color=["#2a7", "#888", "#57a"])
    memory.axvline(TARGET_RSS_MIB, color="red", linestyle="--", label=f"target {TARGET_RSS_MIB:.0f}")
    memory.set_xlabel("peak RSS MiB (lower is better)")
    memory.set_yticks([])
    memory.legend()
    fig.tight_layout()
    buffer = RESULTS / ".agent.png.tmp"
    fig.savefig(buffer, dpi=110, format="png")
    os.replace(buffer, RESULTS / "agent.png")


def summarise(runs: list[Run]) -> tuple[Run, list[float]]:
    """The median run (by CPU time) and every run's CPU seconds."""
    ordered = sorted(runs, key=lambda r: r.cpu_s)
    return ordered[len(ordered) // 2], [r.cpu_s for r in runs]


def main() -> None:
    binary = agent_binary()
    binary_mb = binary.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp, Progress() as progress:
        work = Path(tmp)
        pods = work / "pods"
        task = progress.add_task(f"generating {WORKLOAD_MIB} MiB of CRI logs", total=3 * RUNS + 1)
        input_bytes, messages, files = generate(pods, WORKLOAD_MIB << 20)
        lines = count_lines(sorted(pods.glob("*/*/0.log")))
        shippers = [
            ("kubetrainer-agent", lambda w: run_agent(pods, w), messages),
            ("Python reader", lambda w: run_python(pods, w), messages),
            ("rsyslog imfile", lambda w: run_rsyslog(pods, w, lines), lines),
        ]
        every: list[list[Run]] = [[] for _ in shippers]
        shortfalls: list[str] = []
        for attempt in range(RUNS):
            for index, (description, step, expected) in enumerate(shippers):
                progress.update(task, advance=1, description=f"{description} (run {attempt + 1} of {RUNS})")
                run_dir = work / f"run-{index}-{attempt}"
                run_dir.mkdir()
                run = step(run_dir)
                if run.records != expected:
                    assert index == 2, f"{run.name} delivered {run.records:,} of {expected:,} records in run {attempt + 1}"
                    shortfalls.append(f"{run.name} delivered {run.records:,} of {expected:,} lines in run {attempt + 1}")
                every[index].append(run)
                shutil.rmtree(run_dir)
        runs = []
        spreads = []
        for shipper_runs in every:
            median, cpus = summarise(shipper_runs)
            runs.append(median)
            spreads.append(cpus)
        progress.update(task, advance=1, description="done")
        shutil.rmtree(pods)
    report(runs, spreads, shortfalls, input_bytes, lines, messages, files, binary_mb)


if __name__ == "__main__":
    main()
