"""Redaction on routine logs: how much ordinary content it destroys, and whether every planted secret goes.

Two inputs, both redacted by the Python readers' path (`Redactor.redact_line`, one key-block
state per container stream) and by the Rust agent (`kubetrainer-agent --once` over the
same lines written as CRI files), and by the standard scanner a competent user would reach for,
detect-secrets (`scan` of each stream as a file, default plugins and filters):

- the sample cluster's log noise at `--lines` lines (default 1,000,000; seed 0, default
  scenario), which carries the generator's planted fake secrets;
- routine identifiers in the layouts real programs print them, next to the words that wake
  the entropy backstop (key, token, auth, secret): UUIDs, W3C trace ids, image digests,
  container ids, git SHAs, ETags, Kafka member ids, model and secret *names*. None of them
  is a secret, so every redaction there is a false positive. This set is a measurement,
  not a tuning target: no rule was added or removed because of it.

A line is expected to change when it holds a planted secret value or a line of the planted
key block; any other changed line is a false positive; an expected line that still holds
its secret is a leak. Writes bench/results/redact.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.redact import default_redactor
from kubetrainer.redact_keys import KeyBlock
from kubetrainer.samples.cluster import generate_cluster
from kubetrainer.samples.secrets import planted_secrets
from kubetrainer.sources import dump_files
from kubetrainer.sources.local_agent import agent_binary

RESULTS = Path(__file__).resolve().parent / "results"
PER_TEMPLATE = 2000
FLAGGED = "[FLAGGED BY detect-secrets]"


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# name -> how a real program prints it; each takes the generator and returns one line.
ROUTINE: dict[str, Callable[[random.Random], str]] = {
    "otel trace/span ids": lambda r: f'{{"level":"info","msg":"token validated","trace_id":"{_hex(r, 32)}",'
                                     f'"span_id":"{_hex(r, 16)}","user":"u{r.randint(1, 999)}"}}',
    "W3C traceparent header": lambda r: f"auth middleware: traceparent=00-{_hex(r, 32)}-{_hex(r, 16)}-01 ok",
    "request id (UUID)": lambda r: f"auth ok for alice request_id={_uuid(r)} session={_uuid(r)}",
    "image digest (kubelet event)": lambda r: f'Successfully pulled image "registry.example.com/auth/keycloak@sha256:'
                                              f'{_hex(r, 64)}" in 2.1s',
    "containerd container id": lambda r: f'I1129 04:31:07.123456 1 kuberuntime_manager.go:1017] "Killing container" '
                                         f'containerID="containerd://{_hex(r, 64)}" pod="auth/token-service-0"',
    "git SHA in build info": lambda r: f"token-service version=1.{r.randint(0, 9)}.{r.randint(0, 9)} "
                                       f"commit={_hex(r, 40)} built=2026-11-28",
    "ETag / content hash": lambda r: f'GET /api/v1/keys 200 etag="{_hex(r, 32)}" bytes={r.randint(100, 9999)}',
    "cache key (sha256 of a URL)": lambda r: f"cache key={_hex(r, 64)} hit={r.choice(['true', 'false'])}",
    "Kafka member id": lambda r: f"[Consumer clientId=auth-events-1, groupId=auth] Successfully joined group with "
                                 f"generation Generation{{generationId={r.randint(1, 99)}, "
                                 f"memberId='consumer-auth-1-{_uuid(r)}', protocol='range'}}",
    "secret name in a mount event": lambda r: f'MountVolume.SetUp failed for volume "creds" : secret '
                                              f'"db-credentials-{_hex(r, 5)}" not found',
    "model and tokenizer names": lambda r: f"loading tokenizer for meta-llama/Meta-Llama-3-8B-Instruct "
                                           f"revision={_hex(r, 40)} max_tokens={r.choice([512, 2048, 4096])}",
    "pod and replica set names": lambda r: f"auth token refresh on pod token-service-{_hex(r, 10)}-{_hex(r, 5)} "
                                           f"(uid {_uuid(r)}) took {r.randint(1, 90)}ms",
}


def routine_lines(seed: int) -> Iterator[tuple[str, str]]:
    """(template name, line) for PER_TEMPLATE lines of each routine layout."""
    rng = random.Random(seed)
    for name, make in ROUTINE.items():
        for _ in range(PER_TEMPLATE):
            yield name, make(rng)


def noise_streams(dump: Path) -> Iterator[tuple[str, list[str]]]:
    """(stream name, lines) for every container log in the dump."""
    for namespace_dir in dump_files.namespace_dirs(dump):
        for path in dump_files.log_files(namespace_dir):
            yield str(path.relative_to(dump)), path.read_text(encoding="utf-8").splitlines()


def secret_markers(seed: int) -> list[str]:
    """Strings whose presence makes a line one that must change: planted values and key-block lines."""
    secrets = planted_secrets(seed)
    return [*secrets.values().values(), *secrets.private_key_block.splitlines()]


def python_redacted(streams: dict[str, list[str]]) -> tuple[dict[str, list[str]], float]:
    """Each stream through the readers' path, and the seconds it took."""
    redactor = default_redactor()
    start = time.perf_counter()
    out = {}
    for name, lines in streams.items():
        block = KeyBlock()
        out[name] = [redactor.redact_line(line, block)[0] for line in lines]
    return out, time.perf_counter() - start


def rust_redacted(streams: dict[str, list[str]], work: Path) -> tuple[dict[str, list[str]], float]:
    """Each stream as one container's CRI file, through `kubetrainer-agent --once`; messages back in order."""
    pods = work / "pods"
    names = {}
    for index, (name, lines) in enumerate(streams.items()):
        directory = pods / f"bench_s{index}_{index:08x}-0000-4000-8000-000000000000" / "c"
        directory.mkdir(parents=True)
        names[f"s{index}"] = name
        with (directory / "0.log").open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(f"2026-11-29T04:31:07.000000000Z stdout F {line}\n")
    out = work / "agent-out"
    start = time.perf_counter()
    subprocess.run([str(agent_binary()), "--pods-dir", str(pods), "--state-dir", str(work / "state"), "--output",
                    f"file:{out}", "--once", "--telemetry-interval", "0", "--node-name", "bench"],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    redacted: dict[str, list[str]] = {name: [] for name in streams}
    for path in sorted(out.glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(raw)
            if record.get("kind") == "log":
                redacted[names[record["pod"]]].append(record["message"])
    return redacted, seconds


def detect_secrets_flagged(streams: dict[str, list[str]], work: Path) -> tuple[dict[str, list[str]], float]:
    """The standard scanner as a user runs it on a log file (`detect-secrets scan`, default plugins and filters).

    It reports lines rather than rewriting them, so a flagged line counts as removed whole.
    """
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    files = work / "detect-secrets"
    files.mkdir()
    start = time.perf_counter()
    flagged: dict[str, list[str]] = {}
    with default_settings():
        for index, (name, lines) in enumerate(streams.items()):
            path = files / f"s{index}.txt"
            path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            hit = {secret.line_number - 1 for secret in scan_file(str(path))}
            flagged[name] = [FLAGGED if number in hit else line for number, line in enumerate(lines)]
    return flagged, time.perf_counter() - start


@dataclasses.dataclass
class Tally:
    """Changed lines split by whether they had to change."""

    lines: int = 0
    expected: int = 0
    redacted_expected: int = 0
    leaked: int = 0
    false_positives: int = 0
    examples: list[str] = dataclasses.field(default_factory=list)

    def add(self, before: str, after: str, markers: list[str]) -> None:
        self.lines += 1
        must = [marker for marker in markers if marker in before]
        if must:
            self.expected += 1
            self.redacted_expected += after != before
            self.leaked += any(marker in after for marker in must)
        elif after != before:
            self.false_positives += 1
            if len(self.examples) < 3:
                self.examples.append(after[:200])


def tally(streams: dict[str, list[str]], redacted: dict[str, list[str]], markers: list[str],
          group: Callable[[str, int], str]) -> dict[str, Tally]:
    """Per group (a stream's or a line's label), the tally of before/after pairs."""
    tallies: dict[str, Tally] = {}
    for name, lines in streams.items():
        after = redacted[name]
        if len(after) != len(lines):
            raise SystemExit(f"{name}: {len(lines)} lines in, {len(after)} out")
        for index, (old, new) in enumerate(zip(lines, after, strict=True)):
            tallies.setdefault(group(name, index), Tally()).add(old, new, markers)
    return tallies


def measure(lines: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-redact-") as tmp:
        work = Path(tmp)
        generate_cluster(work / "dump", seed=seed, size=lines)
        noise = dict(noise_streams(work / "dump"))
        routine = list(routine_lines(seed))
        streams = {**noise, "routine": [line for _, line in routine]}
        markers = secret_markers(seed)

        def label(name: str, index: int) -> str:
            return f"routine: {routine[index][0]}" if name == "routine" else "sample cluster noise"

        result: dict = {"noise_lines": sum(map(len, noise.values())), "routine_lines": len(routine), "sides": {}}
        sides = {"ours, Python readers": lambda: python_redacted(streams),
                 "ours, Rust agent": lambda: rust_redacted(streams, work),
                 "detect-secrets 1.5": lambda: detect_secrets_flagged(streams, work)}
        for side, run in sides.items():
            redacted, seconds = run()
            tallies = tally(streams, redacted, markers, label)
            result["sides"][side] = {"seconds": seconds,
                                     "groups": {key: dataclasses.asdict(value) for key, value in tallies.items()}}
    return result


def render(result: dict) -> str:
    sides = list(result["sides"])
    head = "| input | lines | " + " | ".join(f"{side}: false positives" for side in sides) + " |"
    rows = [head, "|" + "---|" * (2 + len(sides))]
    groups = result["sides"][sides[0]]["groups"]
    for group, first in groups.items():
        cells = []
        for side in sides:
            counts = result["sides"][side]["groups"][group]
            clean = counts["lines"] - counts["expected"]
            cells.append(f"{counts['false_positives']:,} of {clean:,} ({counts['false_positives'] / max(clean, 1):.2%})")
        rows.append(f"| {group} | {first['lines']:,} | " + " | ".join(cells) + " |")
    secrets = []
    for side in sides:
        noise = result["sides"][side]["groups"]["sample cluster noise"]
        secrets.append(f"{side}: {noise['redacted_expected']} of {noise['expected']} secret-bearing lines caught, "
                       f"{noise['leaked']} still holding their secret; {result['sides'][side]['seconds']:.1f} s")
    examples = [f"- {group}: `{example}`" for group, counts in result["sides"]["ours, Python readers"]["groups"].items()
                for example in counts["examples"][:1]]
    return "\n".join([f"## Redaction on routine logs ({dt.date.today().isoformat()})", "",
                      f"{result['noise_lines']:,} lines of the sample cluster's noise (seed 0) and "
                      f"{result['routine_lines']:,} routine-identifier lines, through our two redactors and detect-secrets (which flags lines; a flagged line counts as removed).", "",
                      *rows, "", *[f"- {line}" for line in secrets], "",
                      "A false positive from each input that had one (Python side):", *examples, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="log lines of sample noise")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = measure(args.lines, args.seed)
    RESULTS.mkdir(exist_ok=True)
    atomic.write_text(RESULTS / "redact.json", json.dumps(result, indent=2) + "\n")
    text = render(result)
    atomic.write_text(RESULTS / "redact.md", text)
    print(text)


if __name__ == "__main__":
    main()
