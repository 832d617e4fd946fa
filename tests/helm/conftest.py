"""The helm binary that scripts/k8s/build.sh builds into the cache (tests/conftest.py waits for it)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def helm(k8s_bin: Path) -> Path:
    return k8s_bin / "helm"
