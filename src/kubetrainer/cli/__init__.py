"""The `kubetrainer` command line: parse, call a stage, render. Nothing else.

Each command lives in a small module of this package (one per stage) and imports
its stage lazily, so `kubetrainer --help` stays fast and a command never pays for
another stage's dependencies (torch, faiss, kubernetes).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer

from kubetrainer import __version__
from kubetrainer.cli import render
from kubetrainer.cli.state import STATE
from kubetrainer.config import HOME_ENV, Settings, usable_home
from kubetrainer.errors import UserError

# Typer vendors its own click; its usage errors derive from this class.
_CLICK_ERROR = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException")

app = typer.Typer(
    name="kubetrainer",
    help="Detect GPUs, load the best model that fits, harvest cluster data, RAG, fine-tune, serve, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        render.console.print(f"kubetrainer {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    home: Annotated[
        Optional[Path],
        typer.Option("--home", envvar=HOME_ENV, help="Data home (models, harvest, index, runs, cache)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    STATE.settings = Settings(home=usable_home(home), debug=debug)
    root = logging.getLogger()
    if not root.handlers:  # what basicConfig does; a host with its own handlers (pytest) keeps them untouched
        root.setLevel(logging.DEBUG if debug else logging.WARNING)
        root.addHandler(_ROOT)
    _reroute_to_stderr(STDOUT_LOGGERS)
    for handler in (_ROOT, _STDERR):  # only our own handlers: a filter on a host's handler would outlive the call
        (handler.removeFilter if debug else handler.addFilter)(_quiet)


def _quiet(record: logging.LogRecord) -> bool:
    """Without --debug: our own warnings, and only errors from libraries (some set their loggers to DEBUG)."""
    return record.levelno >= (logging.WARNING if record.name.startswith("kubetrainer") else logging.ERROR)


# Set before any library is imported (they read them at import); a user's own setting wins.
QUIET_LIBRARIES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_VERBOSITY": "error", "TRANSFORMERS_VERBOSITY": "error",
                   "TQDM_DISABLE": "1"}


# Libraries whose loggers write to stdout, which belongs to our results (`--json` output).
STDOUT_LOGGERS = ("DeepSpeed",)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes, not when the handler was made."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


_STDERR = _CurrentStderr()  # for the loggers moved off stdout
_ROOT = _CurrentStderr()  # the root logger's, when the process has none
for _handler in (_STDERR, _ROOT):
    _handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def _to_stderr(record: logging.LogRecord) -> bool:
    """A logger filter (it runs before the logger's own handlers): emit on stderr, veto the rest."""
    _STDERR.handle(record)
    return False


def _reroute_to_stderr(names: tuple[str, ...]) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if _to_stderr not in logger.filters:
            logger.addFilter(_to_stderr)


def _register_commands() -> None:
    from kubetrainer.cli import commands  # noqa: F401  (import registers the commands)


def debug_first(args: list[str]) -> list[str]:
    """`--debug` anywhere (before a `--`) moved in front of the command, where the global option is parsed."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(arg for arg in args[:end] if arg != "--debug"), *args[end:]]


def _usage_line(error) -> str:
    """A usage error as one line that names the command to ask for help (click's own takes four)."""
    command = error.ctx.command_path if getattr(error, "ctx", None) else "kubetrainer"
    return f"{error.format_message()} (see `{command} --help`)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of the seed's shim; returns the exit code."""
    _register_commands()
    args = debug_first(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("KUBETRAINER_DEBUG") == "1"
    if not debug:
        for name, value in QUIET_LIBRARIES.items():
            os.environ.setdefault(name, value)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(?!kubetrainer)")
    try:
        app(args=args, prog_name="kubetrainer", standalone_mode=False)
    except UserError as error:
        if debug:
            raise
        render.error(error.render())
        return error.exit_code
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        render.error("aborted")
        return 130
    except KeyboardInterrupt:
        render.error("interrupted")
        return 130
    except Exception as error:
        if isinstance(error, _CLICK_ERROR):  # usage errors: click names the exit code (2)
            render.error(_usage_line(error))
            return error.exit_code
        if debug:
            raise
        render.error(f"internal error: {type(error).__name__}: {error}\n  rerun with --debug for the traceback")
        return 1
    return 0


def run() -> None:
    """Console-script wrapper: exit with main()'s status."""
    sys.exit(main())
