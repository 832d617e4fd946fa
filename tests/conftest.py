"""The suite's one dependency on a slow build: the local control plane's binaries.

`make setup-test` starts their build in the background (scripts/k8s/build.sh --background), so on
a new machine every other test runs while Kubernetes compiles. The tests that use the binaries (the
`k8s_bin` fixture, directly or through `cluster` and `helm`) run last, and before the first of them
build.sh runs once more: it waits for the background build (or builds, when none ran) and says so.
That wait is outside every test's timeout: it is the build's time, not the test's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "k8s"
K8S_FIXTURE = "k8s_bin"
_built: dict[str, str] = {}  # build.sh's failure output, once it has run; empty string when it succeeded


def k8s_bin_dir() -> Path:
    """The cache directory build.sh fills (versions.sh is the one place that names it)."""
    out = subprocess.run(["bash", "-c", f'source "{SCRIPTS}/versions.sh" && echo "$K8S_BIN"'],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _wait_for_build(config: pytest.Config) -> None:
    """Run build.sh once, its progress on the terminal: it returns when the binaries are built."""
    if "result" in _built:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line("the tests that need the control plane's binaries: first scripts/k8s/build.sh")
    proc = subprocess.Popen(["bash", str(SCRIPTS / "build.sh")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if reporter is not None:
            reporter.write_line(line.rstrip())
        else:
            sys.stderr.write(line)
    _built["result"] = "" if proc.wait() == 0 else "".join(lines[-20:])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need the binaries last (a stable sort: each group keeps its order)."""
    items.sort(key=lambda item: K8S_FIXTURE in getattr(item, "fixturenames", ()))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Outside pytest-timeout's wrapper (tryfirst: this one is entered first), wait for the build."""
    if K8S_FIXTURE in getattr(item, "fixturenames", ()):
        _wait_for_build(item.config)
    return (yield)


@pytest.fixture(scope="session")
def k8s_bin() -> Path:
    """The directory of the built control-plane binaries (kube-apiserver, etcd, kwok, kubectl, helm, ...)."""
    failure = _built.get("result", "")
    if failure:
        pytest.fail(f"the control plane's binaries did not build (scripts/k8s/build.sh):\n{failure}", pytrace=False)
    return k8s_bin_dir()
