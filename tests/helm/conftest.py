"""Locate the helm binary that scripts/k8s/build.sh builds into the cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "k8s"


@pytest.fixture(scope="session")
def helm() -> Path:
    out = subprocess.run(["bash", "-c", f'source "{SCRIPTS}/versions.sh" && echo "$K8S_BIN"'],
                         capture_output=True, text=True, check=True)
    binary = Path(out.stdout.strip()) / "helm"
    if not binary.is_file():
        pytest.fail(f"helm is not built at {binary}; run `make setup-test` (scripts/k8s/build.sh)")
    return binary
