"""README and CLI agree: every `kubetrainer ...` and seed-shim command the README shows names real commands and flags.

Each command line (fenced code blocks and inline code) is resolved against the typer app
without running it: the subcommand path must exist and every option must belong to it or
to the global options. Placeholders (`[--json]`, `a|b`, `...`, `<home>`) are read as a
person reads them: brackets dropped, the first of the alternatives.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from kubetrainer.cli import _register_commands, app

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SHIM = REPO / "infra_training" / "infra_learning.py"


def command_lines(markdown: str, program: str) -> list[str]:
    """`program ...` lines of the fenced blocks (continuations joined) and of inline code spans."""
    fenced = re.findall(r"^```[a-z]*\n(.*?)^```", markdown, flags=re.M | re.S)
    lines = [line.split("  #")[0].strip() for block in fenced for line in block.replace("\\\n", " ").splitlines()]
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    inline = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    return [line for line in lines + inline if line.startswith(program + " ")]


def _tokens(line: str) -> list[str]:
    words = shlex.split(line.replace("[", " ").replace("]", " "), comments=True)
    return [word.split("|")[0] for word in words if word not in ("|", "...")]


def _options(command) -> dict[str, bool]:
    """Each long and short option of `command`, and whether it takes a value."""
    return {name: not getattr(param, "is_flag", False) and not getattr(param, "count", False)
            for param in command.params for name in (*param.opts, *param.secondary_opts) if name.startswith("-")}


def unknown_options(line: str, root) -> list[str]:
    """What in `line` the CLI does not have: a subcommand, or an option of the command it names."""
    command, problems = root, []
    options = _options(root) | {"--help": False, "-h": False}
    tokens = iter(_tokens(line)[1:])
    for token in tokens:
        if token.startswith("-") and token != "-":
            name = token.split("=")[0]
            if name not in options:
                problems.append(f"{command.name} {name}")
            elif options[name] and "=" not in token:
                next(tokens, None)
        elif hasattr(command, "commands"):  # a group: the next word names its subcommand
            if token.isupper():  # a placeholder (`kubetrainer COMMAND --help`): nothing more to check
                return problems
            if token not in command.commands:
                return [f"no command {token!r} in {command.name}"]
            command = command.commands[token]
            options |= _options(command)
    return problems


@pytest.fixture(scope="module")
def root():
    from typer.main import get_command

    _register_commands()
    return get_command(app)


def test_the_checker_catches_a_flag_that_does_not_exist(root):
    assert unknown_options("kubetrainer train --dataset d.json --lr 1e-4 --json", root) == []
    assert unknown_options("kubetrainer train --dataset d.json --learning-rate 1e-4", root) == ["train --learning-rate"]
    assert unknown_options("kubetrainer runs lst", root) == ["no command 'lst' in runs"]


def test_every_kubetrainer_command_in_the_readme_exists(root):
    lines = command_lines(README.read_text(encoding="utf-8"), "kubetrainer")
    assert len(lines) > 30  # the extraction itself works
    problems = {line: unknown for line in lines if (unknown := unknown_options(line, root))}
    assert not problems, problems


def test_every_seed_command_in_the_readme_parses():
    spec = importlib.util.spec_from_file_location("infra_learning", SHIM)
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    lines = command_lines(README.read_text(encoding="utf-8"), "python infra_training/infra_learning.py")
    assert len(lines) == 5
    for line in lines:
        shim.parse(shlex.split(line, comments=True)[2:])  # argparse exits 2 on a flag it does not know


@pytest.mark.agent
def test_every_agent_flag_in_the_readme_exists():
    import subprocess

    agent = REPO / ".venv" / "bin" / "kubetrainer-agent"
    if not agent.exists():
        pytest.skip("the agent is not built (make setup)")
    known = set(re.findall(r"--[a-z][a-z-]+", subprocess.run([agent, "--help"], capture_output=True, text=True).stdout))
    lines = command_lines(README.read_text(encoding="utf-8"), "kubetrainer-agent")
    assert lines
    assert {flag for line in lines for flag in re.findall(r"--[a-z][a-z-]+", line)} <= known


def test_serve_rag_takes_an_index_name_as_the_readme_shows(tmp_path, capsys):
    """`serve --rag default` is <home>/index/default, which `kubetrainer index` builds (the README said index/main)."""
    from kubetrainer.cli import main

    assert main(["--home", str(tmp_path), "serve", "--rag", "default"]) == 2
    expected = tmp_path.resolve() / "index" / "default"
    assert f"{expected}: the RAG index directory does not exist" in " ".join(capsys.readouterr().err.split())
