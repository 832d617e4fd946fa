"""The main job: `kubetrainer quickstart` (= `make run` after set-up) in a fresh data home, then again.

The first run does every step (the GGUF conversion included); the re-run is what a user
gets after an interruption or a second `make run`: every finished step is skipped. Both
in one run of this script, each a fresh process; the bundled model packages are the only
input. Also counts how many of the printed on-call answers state the expected cause and
cite the source holding its evidence. Writes bench/results/quickstart.md and quickstart.json.

    .venv/bin/python bench/bench_quickstart.py
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KUBETRAINER = ROOT / ".venv" / "bin" / "kubetrainer"
TARGET_S = 600.0


def _run(home: Path) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run([str(KUBETRAINER), "--home", str(home), "quickstart"], capture_output=True, text=True,
                               env=os.environ | {"COLUMNS": "200"}, check=True)
    return time.perf_counter() - started, completed.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-quickstart-") as tmp:
        home = Path(tmp)
        print("bench_quickstart: first run (fresh data home) ...", flush=True)
        first_s, first_out = _run(home)
        steps = {key: value["seconds"] for key, value in json.loads((home / "quickstart" / "state.json").read_text()).items()}
        print("bench_quickstart: re-run ...", flush=True)
        again_s, _ = _run(home)
    cited = first_out.count("(states the expected cause and cites its evidence)")
    asked = cited + first_out.count("(does NOT: missing")
    result = {"date": time.strftime("%Y-%m-%d"), "load_avg": round(os.getloadavg()[0], 1), "first_s": first_s, "again_s": again_s,
              "steps_s": steps, "answers_citing_evidence": cited, "questions": asked, "target_s": TARGET_S}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "quickstart.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {key} | {seconds:.1f} s |" for key, seconds in steps.items())
    text = f"""## Quickstart: `make run` end to end (run {result['date']})

`kubetrainer quickstart` in a fresh data home on this CPU machine after set-up (`bench/bench_quickstart.py`), then
the same command again, which skips every finished step. Load average {result['load_avg']} at the end.
Target: the first run under {TARGET_S / 60:.0f} minutes: **{'met' if first_s < TARGET_S else 'not met'}**;
{cited} of {asked} printed on-call answers state the expected cause and cite the source holding its evidence.

| run | wall time |
|---|---|
| first (fresh home) | {first_s:.1f} s |
| re-run (finished steps skipped) | {again_s:.1f} s |
| **ratio** | **{first_s / again_s:.0f}x** |

| step (first run) | time |
|---|---|
{rows}
"""
    (RESULTS / "quickstart.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
