"""`make bench`'s load guard (scripts/bench_load.sh) on a fake /proc/loadavg, with a tiny real benchmark.

A benchmark started on a busy machine measures the other work too: it waits for the load to
fall, is refused, or with FORCE=1 runs and its section in BENCHMARKS.md names the load.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_BENCH = """from pathlib import Path
Path(__file__).parent.joinpath("results", "fake.md").write_text("## Fake benchmark\\n\\n| ours | 1 s |\\n")
print("fake benchmark ran")
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory laid out like the repository root: .venv/bin/python and bench/bench_fake.py."""
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "bench_fake.py").write_text(FAKE_BENCH)
    return tmp_path


def set_load(checkout: Path, one_minute: str) -> None:
    (checkout / "loadavg").write_text(f"{one_minute} 0.80 0.70 2/345 6789\n")


def bench_one(checkout: Path, **env: str) -> subprocess.Popen[str]:
    """Starts `bench_one bench/bench_fake.py` as scripts/bench.sh calls it (set -euo pipefail)."""
    command = 'set -euo pipefail; source "$0"; bench_one bench/bench_fake.py'
    inherited = {key: value for key, value in os.environ.items() if key not in ("FORCE", "BENCH_MAX_LOAD", "BENCH_WAIT_QUIET")}
    environment = {**inherited, "LOADAVG_FILE": str(checkout / "loadavg"), **env}
    return subprocess.Popen(["bash", "-c", command, str(REPO / "scripts" / "bench_load.sh")], cwd=checkout,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def render_section(path: Path) -> str:
    spec = importlib.util.spec_from_file_location("assemble", REPO / "bench" / "assemble.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render_section(path)


def test_a_quiet_machine_runs_the_benchmark_with_the_load_before_and_after(checkout: Path) -> None:
    set_load(checkout, "0.42")
    code, out, err = finish(bench_one(checkout))
    assert code == 0, err
    assert out.splitlines() == ["    load before: 0.42 (1-minute; limit 1.5)", "fake benchmark ran", "    load after: 0.42"]
    assert not (checkout / "bench" / "results" / "fake.forced").exists()
    assert render_section(checkout / "bench" / "results" / "fake.md") == "## Fake benchmark\n\n| ours | 1 s |\n"


def test_a_busy_machine_is_refused_in_one_line_with_status_2(checkout: Path) -> None:
    set_load(checkout, "3.20")
    code, out, err = finish(bench_one(checkout, BENCH_WAIT_QUIET="0"))
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == (
        "bench: not starting bench/bench_fake.py: 1-minute load 3.20 is above the limit 1.5 after 0 s (FORCE=1 runs it anyway)"
    )
    assert not (checkout / "bench" / "results" / "fake.md").exists()


def test_the_guard_waits_for_the_load_to_fall(checkout: Path) -> None:
    set_load(checkout, "2.10")
    process = bench_one(checkout, BENCH_WAIT_QUIET="30")
    time.sleep(1.5)
    set_load(checkout, "1.50")  # at the limit is quiet enough
    code, out, err = finish(process)
    assert code == 0, err
    assert "load 2.10 is above 1.5: waiting up to 30 s for it to fall" in err
    assert out.splitlines()[0] == "    load before: 1.50 (1-minute; limit 1.5)"


def test_forced_runs_are_marked_in_benchmarks_md_until_a_quiet_run(checkout: Path) -> None:
    set_load(checkout, "3.20")
    code, out, err = finish(bench_one(checkout, FORCE="1", BENCH_WAIT_QUIET="0"))
    assert code == 0, err
    assert "load before: 3.20" in out and "fake benchmark ran" in out
    section = checkout / "bench" / "results" / "fake.md"
    assert (checkout / "bench" / "results" / "fake.forced").read_text() == "3.20\n"
    assert render_section(section).splitlines()[:3] == [
        "## Fake benchmark", "", "> **Measured at load 3.20 (forced)**: above the quiet limit, so other work may have slowed it."
    ]
    set_load(checkout, "0.30")
    assert finish(bench_one(checkout))[0] == 0
    assert "forced" not in render_section(section)


def test_a_failing_benchmark_keeps_its_status_and_its_old_mark(checkout: Path) -> None:
    (checkout / "bench" / "results" / "fake.forced").write_text("2.50\n")
    (checkout / "bench" / "bench_fake.py").write_text("raise SystemExit(3)\n")
    set_load(checkout, "0.30")
    code, out, _ = finish(bench_one(checkout))
    assert code == 3 and "load after" not in out
    assert (checkout / "bench" / "results" / "fake.forced").read_text() == "2.50\n"
