"""Redaction and ingest work in every install: a wheel in a fresh virtualenv, and the images.

The wheel is built only from what docker/server.Dockerfile copies, so this also checks
the server image's file list: if the image left out the package data, the wheel built
here would lack it and the redaction and ingest checks would fail. The fresh venv gets
the wheel alone (no index); its dependencies come from this checkout's venv through a
.pth line, which does not bring the editable install of the checkout with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq1xFAKE\n-----END RSA PRIVATE KEY-----\n"

CHECK = textwrap.dedent('''
    import base64, json, sys
    import kubetrainer
    from kubetrainer.redact import redact_text
    from kubetrainer.serve.ingest import check_lines

    repo = sys.argv[1]
    assert not kubetrainer.__file__.startswith(repo), kubetrainer.__file__
    key = base64.b64encode(sys.argv[2].encode()).decode()
    text, counts = redact_text("client-key-data: " + key + " password=hunter2")
    assert text == "client-key-data: [REDACTED:private_key] password=[REDACTED:secret_pair]", text
    record = {"v": 1, "id": "a" * 32, "kind": "log", "ts": "2026-11-27T06:01:00Z", "source": "agent",
              "message": "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}
    result = check_lines((json.dumps(record) + "\\n" + json.dumps({"v": 1})).encode(), set())
    assert [r["message"] for r in result.records] == ["Authorization: Token [REDACTED:authorization]"]
    assert len(result.rejected) == 1, result.rejected
    print("ok", kubetrainer.__file__)
''')


def dockerfile_copies(dockerfile: Path, stage: int = 0) -> list[str]:
    """The repository paths the COPY lines of one build stage bring into the image."""
    stages = re.split(r"(?m)^FROM ", dockerfile.read_text(encoding="utf-8"))[1:]
    sources = []
    for line in stages[stage].splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            sources += words[1:-1]
    return sources


def build_context(dockerfile: Path, into: Path) -> Path:
    """A copy of what the image's build stage sees (its COPY sources), without build leftovers."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "target")
    for source in dockerfile_copies(dockerfile):
        origin, target = REPO / source, into / source
        assert origin.exists(), f"{dockerfile.name} copies {source}, which is not in the repository"
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=ignore, symlinks=False)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    return into


def fresh_venv(path: Path) -> Path:
    """A venv with no packages whose imports fall back to this checkout's venv (for dependencies only)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps-from-checkout.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


@pytest.mark.slow
def test_wheel_from_the_server_image_files_redacts_and_ingests(tmp_path: Path) -> None:
    context = build_context(REPO / "docker" / "server.Dockerfile", tmp_path / "context")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "dist"), str(context)], check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("kubetrainer-*.whl"))
    python = fresh_venv(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, cwd=tmp_path)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    checked = subprocess.run([python, "-c", CHECK, str(REPO), PEM], check=False, capture_output=True, text=True, cwd=tmp_path,
                             env=env)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok ") and str(tmp_path / "venv") in checked.stdout

    logs = tmp_path / "app.log"
    logs.write_text("2026-11-27T06:01:00Z DEBUG tls: -----BEGIN PRIVATE KEY-----\n"
                    "2026-11-27T06:01:00Z DEBUG tls: MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
                    "2026-11-27T06:01:00Z DEBUG tls: -----END PRIVATE KEY-----\n", encoding="utf-8")
    harvest = subprocess.run([python, "-m", "kubetrainer", "harvest", "--files", str(logs), "--json"], cwd=tmp_path,
                             check=False, capture_output=True, text=True, env={**env, "KUBETRAINER_HOME": str(tmp_path / "home")})
    assert harvest.returncode == 0, harvest.stderr
    stored = (tmp_path / "home" / "harvest" / "harvest.jsonl").read_text(encoding="utf-8")
    assert "MIIEvQ" not in stored and stored.count("[REDACTED:private_key]") == 3


@pytest.mark.slow
def test_agent_image_files_build_an_agent_that_embeds_the_patterns(tmp_path: Path) -> None:
    """cargo builds the agent from exactly what docker/agent.Dockerfile copies (the pattern file included)."""
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    context = build_context(REPO / "docker" / "agent.Dockerfile", tmp_path / "context")
    cache = Path(os.environ.get("KUBETRAINER_CACHE") or Path.home() / ".cache" / "kubetrainer")
    target = os.environ.get("CARGO_TARGET_DIR") or str(cache / "cargo-target" / "agent")  # `cargo test`'s deps
    built = subprocess.run([cargo, "build", "--offline", "--manifest-path", str(context / "cluster_agent" / "Cargo.toml")],
                           check=False, capture_output=True, text=True, env={**os.environ, "CARGO_TARGET_DIR": target})
    assert built.returncode == 0, built.stderr[-3000:]
    binary = Path(target) / "debug" / "kubetrainer-agent"
    pods = tmp_path / "pods" / "default_web-0_uid-1" / "app"
    pods.mkdir(parents=True)
    (pods / "0.log").write_text("2026-11-27T06:01:00.000000000Z stdout F docker auths "
                                '{"auths":{"r.io":{"auth":"ZGVwbG95OnMzY3IzdC10b2tlbg=="}}}\n', encoding="utf-8")
    run = subprocess.run([str(binary), "--once", "--pods-dir", str(tmp_path / "pods"), "--state-dir", str(tmp_path / "s"),
                          "--output", "stdout", "--kmsg", "none", "--gpu", "off", "--telemetry-interval", "0"],
                         check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    messages = [json.loads(line)["message"] for line in run.stdout.splitlines() if line.startswith("{")]
    assert messages == ['docker auths {"auths":{"r.io":{"auth":"[REDACTED:docker_auth]"}}}']
