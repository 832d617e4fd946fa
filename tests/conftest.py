"""The suite's dependencies on slow builds: the control plane's binaries and llama-cpp-python.

`make setup-test` starts both builds in the background (scripts/k8s/build.sh --background,
scripts/setup.d/06-llama-cpp.sh), so on a new machine every other test runs while they compile.
The tests that need one (through its fixture, directly or via `cluster`, `helm`, ...) run after all
the others, in the order the builds are listed, and before the first of them its build script runs
once more in the foreground: it waits for the background build (or builds, when none ran) and says
so on the terminal. That wait is outside every test's timeout: it is the build's time, not the test's.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@dataclass(frozen=True)
class SlowBuild:
    """A build some tests need: the fixture that marks them and the script that waits for it."""

    fixture: str
    what: str
    script: tuple[str, ...]


BUILDS = (
    SlowBuild("k8s_bin", "the control plane's binaries", ("k8s/build.sh",)),
    SlowBuild("llama_cpp", "llama-cpp-python", ("setup.d/06-llama-cpp.sh", "--wait")),
)
_failures: dict[str, str] = {}  # fixture -> the end of its script's output when it failed ("" when it succeeded)


def k8s_bin_dir() -> Path:
    """The cache directory build.sh fills (versions.sh is the one place that names it)."""
    out = subprocess.run(["bash", "-c", f'source "{SCRIPTS}/k8s/versions.sh" && echo "$K8S_BIN"'],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _needed(item: pytest.Item) -> list[SlowBuild]:
    names = getattr(item, "fixturenames", ())
    return [build for build in BUILDS if build.fixture in names]


def _wait_for(build: SlowBuild, config: pytest.Config) -> None:
    """Run the build's script once, its lines on the terminal: it returns when the build is there."""
    if build.fixture in _failures:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter is not None else (lambda line: sys.stderr.write(line + "\n"))
    script, *args = build.script
    say("")
    say(f"the tests that need {build.what}: first scripts/{script} {' '.join(args)}".rstrip())
    proc = subprocess.Popen(["bash", str(SCRIPTS / script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        say(line.rstrip())
    _failures[build.fixture] = "" if proc.wait() == 0 else "".join(lines[-20:])


def _built(fixture: str) -> None:
    build = next(b for b in BUILDS if b.fixture == fixture)
    if _failures.get(fixture):
        pytest.fail(f"{build.what} did not build (scripts/{' '.join(build.script)}):\n{_failures[fixture]}",
                    pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests needing no slow build first, then by the last build each needs (a stable sort)."""
    items.sort(key=lambda item: max((BUILDS.index(b) + 1 for b in _needed(item)), default=0))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Outside pytest-timeout's wrapper (tryfirst: this one is entered first), wait for the builds."""
    for build in _needed(item):
        _wait_for(build, item.config)
    return (yield)


@pytest.fixture(scope="session")
def k8s_bin() -> Path:
    """The directory of the built control-plane binaries (kube-apiserver, etcd, kwok, kubectl, helm, ...)."""
    _built("k8s_bin")
    return k8s_bin_dir()


@pytest.fixture(scope="session")
def llama_cpp() -> ModuleType:
    """llama-cpp-python, installed into .venv by its script (maybe during this session)."""
    _built("llama_cpp")
    importlib.invalidate_caches()
    return importlib.import_module("llama_cpp")
