"""The CLI's shared behaviour: help, data home, error rendering, the seed shim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from kubetrainer import atomic
from kubetrainer.cli import app, main
from kubetrainer.cli.state import STATE
from kubetrainer.config import resolve_home
from kubetrainer.errors import UserError

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "infra_training" / "infra_learning.py"


def test_help_lists_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--home" in out and "--debug" in out


def test_home_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETRAINER_HOME", str(tmp_path / "env"))
    assert resolve_home() == tmp_path / "env"
    assert resolve_home(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("KUBETRAINER_HOME")
    assert resolve_home() == Path("~/.kubetrainer").expanduser().resolve()


def test_user_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("boom-for-test")
    def boom() -> None:
        raise UserError("no such file", where="data.json:3", expected="a JSON object")

    try:
        assert main(["boom-for-test"]) == 2
    finally:
        app.registered_commands.pop()
    err = capsys.readouterr().err
    assert "data.json:3: no such file; expected a JSON object" in " ".join(err.split())
    assert "Traceback" not in err


def test_bug_without_debug_has_no_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("bug-for-test")
    def bug() -> None:
        raise RuntimeError("kaboom")

    try:
        assert main(["bug-for-test"]) == 1
        with pytest.raises(RuntimeError):
            main(["--debug", "bug-for-test"])
    finally:
        app.registered_commands.pop()
    assert "rerun with --debug" in capsys.readouterr().err


def test_global_home_option_reaches_state(tmp_path: Path) -> None:
    @app.command("home-for-test")
    def home() -> None:
        raise typer.Exit(0 if STATE.settings.home == tmp_path.resolve() else 9)

    try:
        assert main(["--home", str(tmp_path), "home-for-test"]) == 0
    finally:
        app.registered_commands.pop()


def test_atomic_directory_keeps_old_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "index"
    with atomic.directory(target) as staging:
        (staging / "a").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.directory(target) as staging:
            (staging / "a").write_text("new")
            raise RuntimeError("interrupted")
    assert (target / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["index"]


def test_shim_rejects_bad_flag_combinations() -> None:
    result = subprocess.run(
        [sys.executable, str(SHIM), "--train"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "--train needs --dataset" in result.stderr


def test_missing_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("needs-option-for-test")
    def needs(source: str = typer.Option(...)) -> None:
        raise typer.Exit(0)

    try:
        assert main(["needs-option-for-test"]) == 2
    finally:
        app.registered_commands.pop()
    err = capsys.readouterr().err
    assert "Missing option" in err and "--source" in err and "internal error" not in err


def test_library_logs_written_to_stdout_are_moved_to_stderr_and_shown_only_with_debug(tmp_path, capfd):
    """DeepSpeed's logger prints on stdout; `--json` output there must stay parseable, and a user
    sees a library's warnings only with --debug (our own warnings always)."""
    import logging

    from deepspeed.utils import logger

    from kubetrainer.cli import _global_options, _quiet

    capfd.readouterr()
    for _ in range(2):  # every command runs the callback; the reroute is installed once
        _global_options(home=tmp_path, debug=True, version=False)
    logger.warning("noise from a library")
    out, err = capfd.readouterr()
    assert "noise" not in out
    assert err.count("noise from a library") == 1
    _global_options(home=tmp_path, debug=False, version=False)
    logger.warning("noise from a library")
    out, err = capfd.readouterr()
    assert "noise" not in out + err

    def shown(name: str, level: int) -> bool:
        return _quiet(logging.LogRecord(name, level, __file__, 1, "message", None, None))

    assert shown("kubetrainer.index", logging.WARNING) and shown("bm25s", logging.ERROR)
    assert not shown("bm25s", logging.DEBUG) and not shown("transformers.modeling_utils", logging.WARNING)


def test_the_cli_leaves_a_host_processes_log_handlers_alone(tmp_path, caplog):
    """In-process callers (tests, notebooks) keep every record: the quiet filter sits on our handlers only."""
    import logging

    from kubetrainer.cli import _global_options

    _global_options(home=tmp_path, debug=False, version=False)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("kubetrainer.serve.access").info("request served")
        logging.getLogger("a.library").debug("building")
    assert [record.getMessage() for record in caplog.records] == ["request served", "building"]
