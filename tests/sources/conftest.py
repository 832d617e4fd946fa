"""A small generated sample cluster shared by the source tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrainer.samples.cluster import generate_cluster


@pytest.fixture(scope="session")
def sample_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sources") / "dump"
    generate_cluster(out, seed=3, size=1500)
    return out
