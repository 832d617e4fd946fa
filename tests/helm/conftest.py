"""Locate the helm binary that scripts/k8s/build.sh builds into the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def helm() -> Path:
    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    found = sorted(cache.glob("k8s-*/bin/helm"))
    if not found:
        pytest.fail(f"helm is not built under {cache}/k8s-*/bin; run `make setup` (scripts/k8s/build.sh)")
    return found[-1]
