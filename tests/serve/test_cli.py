"""The serve and mcp commands refuse bad settings in a second, before any model is loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kubetrainer.cli import main
from tests.serve.servers import REPO


def test_beyond_loopback_without_keys_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--home", str(tmp_path), "serve", "--host", "0.0.0.0"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "refusing to listen on 0.0.0.0 without API keys" in err and "--api-key-file" in err


def test_bad_key_file_and_mcp_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("tooshort\n")
    assert main(["--home", str(tmp_path), "serve", "--api-key-file", str(keys)]) == 2
    assert main(["--home", str(tmp_path), "mcp", "--transport", "carrier-pigeon"]) == 2
    assert main(["--home", str(tmp_path), "mcp", "--transport", "http", "--host", "0.0.0.0"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "shorter than 16 characters" in err and "unknown transport" in err and "refusing to serve MCP" in err


def test_seed_shim_serve_rag_reaches_serve(tmp_path: Path) -> None:
    """`infra_learning.py --serve --rag DIR` runs `kubetrainer serve --rag DIR`; the seed's DIR, which nothing
    creates, falls back to the data home's default index, and a missing index is named."""
    missing = tmp_path / "vector_index"
    result = subprocess.run([sys.executable, str(REPO / "infra_training" / "infra_learning.py"), "--home",
                             str(tmp_path), "--serve", "--rag", str(missing)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    err = " ".join(result.stderr.split())
    assert f"note: {missing} does not exist, so the data home's default index is served" in err
    assert f"{tmp_path.resolve() / 'index' / 'default'}: the RAG index directory does not exist" in err
