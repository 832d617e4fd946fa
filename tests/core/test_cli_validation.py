"""Ordinary mistakes end in one line that names the input and what was expected, exit 2 (3: cannot run here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer

from kubetrainer.cli import app, main

BUILD = ["dataset", "build", "--source", "r.jsonl", "--out", "new.json"]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not line.lstrip().startswith("hint:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "blob.jsonl"
    path.write_bytes(os.urandom(200_000))
    return path


def test_a_binary_file_as_a_training_dataset(tmp_path, binary, capsys):
    assert main(["--home", str(tmp_path / "home"), "train", "--dataset", str(binary)]) == 2
    assert f"{binary}: not UTF-8 text (a binary file?)" in _one_line(capsys)
    assert not [path for path in (tmp_path / "home" / "runs").iterdir()]  # no run is left behind


def test_a_binary_file_as_dataset_build_source_is_reported_once(tmp_path, binary, capsys):
    argv = ["dataset", "build", "--source", str(binary), "--out", str(tmp_path / "d.json")]
    assert main(["--home", str(tmp_path), *argv]) == 2
    line = _one_line(capsys)
    assert "no records could be read" in line and line.count("binary file, skipped") == 1


def test_index_with_only_bad_sources_is_an_error_and_leaves_no_index(tmp_path, binary, capsys):
    assert main(["--home", str(tmp_path / "home"), "index", "--source", str(binary)]) == 2
    assert "--source: no records could be read from any source" in _one_line(capsys)
    assert not (tmp_path / "home" / "index" / "default").exists()


def test_a_data_home_that_is_a_file(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.write_text("not a directory")
    assert main(["--home", str(home), "runs", "list"]) == 2
    assert f"--home {home}: is a file" in _one_line(capsys)
    monkeypatch.setenv("KUBETRAINER_HOME", str(home))
    assert main(["runs", "list"]) == 2
    assert f"$KUBETRAINER_HOME {home}: is a file" in _one_line(capsys)


def test_operator_without_a_cluster(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["--home", str(tmp_path), "operator", "--kubeconfig", str(tmp_path / "missing")]) == 3
    assert "no usable Kubernetes credentials" in _one_line(capsys)


@pytest.mark.parametrize(("argv", "expected"), [
    (["train", "--dataset", "d.jsonl", "--nproc", "0"], "Invalid value for '--nproc'"),
    (["train", "--dataset", "d.jsonl", "--lr", "-1"], "--lr: Input should be greater than 0"),
    (["train", "--dataset", "d.jsonl", "--rank", "0"], "--rank: Input should be greater than or equal to 1"),
    (["train", "--dataset", "d.jsonl", "--fsdp", "--deepspeed", "zero2"], "choose one of --fsdp and --deepspeed"),
    ([*BUILD, "--eval-fraction", "-1"], "--eval-fraction: -1.0 is not a share"),
    ([*BUILD, "--eval-fraction", "1.5"], "--eval-fraction: 1.5 is not a share"),
    (["load", "--gpus", "4", "--dry-run"], "--gpus: a GPU count needs a GPU size"),
    (["query", "why", "--kind", "pods"], "--kind: 'pods' is not a kind of chunk"),
    (["runs", "lst"], "No such command 'lst'"),
])
def test_bad_values_name_the_flag_that_exists(tmp_path, capsys, argv, expected):
    assert main(["--home", str(tmp_path), *argv]) == 2
    assert expected in _one_line(capsys)


def test_debug_is_accepted_anywhere_on_the_line(tmp_path, capsys):
    @app.command("bug-anywhere-for-test")
    def bug(name: str = typer.Option("x", "--name")) -> None:
        raise RuntimeError("kaboom")

    try:
        assert main(["--home", str(tmp_path), "bug-anywhere-for-test", "--name", "y"]) == 1
        with pytest.raises(RuntimeError):
            main(["--home", str(tmp_path), "bug-anywhere-for-test", "--debug", "--name", "y"])
    finally:
        app.registered_commands.pop()
    assert main(["--home", str(tmp_path), "runs", "list", "--debug"]) == 0


# Flags of other programs that our messages and commands name on purpose.
FOREIGN_FLAGS = {
    "--all-namespaces", "--output-directory",  # kubectl cluster-info dump
    "--create-namespace",  # helm
    "--nnodes", "--nproc-per-node", "--rdzv-backend", "--rdzv-endpoint", "--rdzv-id", "--standalone",  # torchrun
    "--run-dir",  # kubetrainer.train.worker, the process torchrun starts
    "--node-name", "--once", "--state-dir", "--redact-pattern",  # kubetrainer-agent
    "--showallinfo", "--showmeminfo",  # rocm-smi
    "--allowed-unsafe-sysctls",  # kubelet
    "--gpu-memory-utilization", "--max-model-len",  # vllm serve
    "--dtype", "--enable-lora", "--lora-modules", "--max-lora-rank", "--served-model-name",  # vLLM's OpenAI server
    "--bind",  # gunicorn (uvicorn's and Flask's --host is ours too)
    "--auto-compaction-retention", "--quota-backend-bytes",  # etcd
    "--max-old-space-size",  # node (V8's heap cap, in NODE_OPTIONS)
}


def cli_flags() -> set[str]:
    """Every long option of every `kubetrainer` command (and click's --help)."""
    from typer.main import get_command

    from kubetrainer.cli import _register_commands

    _register_commands()
    flags = {"--help"}

    def walk(command) -> None:
        for param in command.params:
            flags.update(name for name in (*param.opts, *param.secondary_opts) if name.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(get_command(app))
    return flags


def test_messages_name_only_flags_that_exist():
    """An error said `--learning-rate` where the flag is `--lr`: every --flag in our strings must be real."""
    import ast
    import re

    known = cli_flags() | FOREIGN_FLAGS
    flag = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
    package = Path(__file__).resolve().parents[2] / "src" / "kubetrainer"
    unknown = set()
    for path in package.rglob("*.py"):
        if "samples" in path.relative_to(package).parts:  # generated cluster logs quote other programs' flags
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found = flag.findall(node.value)
                unknown |= {f"{path.relative_to(package)}: {name}" for name in found if name not in known}
    assert not unknown, sorted(unknown)
