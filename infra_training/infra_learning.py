#!/usr/bin/env python3
"""The seed README's entry point, kept working as written: a thin shim over `kubetrainer`.

    python infra_training/infra_learning.py --detect
    python infra_training/infra_learning.py --load
    python infra_training/infra_learning.py --train --dataset ./datasets/cluster_texts.json
    python infra_training/infra_learning.py --serve --rag ./vector_index/
    python infra_training/infra_learning.py --eval ./checkpoints/latest

Each flag becomes the matching `kubetrainer` command, so both run the same code.
The seed's `--rag ./vector_index/` names a directory nothing creates: when the
directory does not exist, the data home's default index (`kubetrainer index`) serves.
Run with any Python: when `kubetrainer` is not importable it re-executes itself
with the project's `.venv` (made by `make setup`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _ensure_kubetrainer() -> None:
    try:
        import kubetrainer  # noqa: F401
    except ImportError:
        venv_python = REPO / ".venv" / "bin" / "python"
        if venv_python.exists() and Path(sys.executable).resolve() != venv_python.resolve():
            os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
        sys.stderr.write("error: kubetrainer is not installed; run `make setup` first\n")
        sys.exit(2)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="infra_learning.py",
        description="KubeTrainer's seed workflow. The full CLI is `kubetrainer --help`.",
    )
    stage = parser.add_mutually_exclusive_group(required=True)
    stage.add_argument("--detect", action="store_true", help="inventory local and cluster GPUs")
    stage.add_argument("--load", action="store_true", help="pick, download and cache the best model that fits")
    stage.add_argument("--train", action="store_true", help="fine-tune on --dataset")
    stage.add_argument("--serve", action="store_true", help="serve the model (with --rag INDEX_DIR)")
    stage.add_argument("--eval", metavar="CHECKPOINT", help="evaluate a checkpoint or model")
    parser.add_argument("--dataset", help="training data (JSON/JSONL) for --train")
    parser.add_argument("--rag", metavar="INDEX_DIR", help="index made by `kubetrainer index` (absent: the default one)")
    parser.add_argument("--home", help="data home (default $KUBETRAINER_HOME or ~/.kubetrainer)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.train and not args.dataset:
        parser.error("--train needs --dataset PATH")
    if args.dataset and not args.train:
        parser.error("--dataset only goes with --train")
    if args.rag and not args.serve:
        parser.error("--rag only goes with --serve")
    return args


def to_cli_args(args: argparse.Namespace) -> list[str]:
    """The `kubetrainer` argv equivalent to the seed flags."""
    common = [*(["--home", args.home] if args.home else []), *(["--debug"] if args.debug else [])]
    if args.detect:
        return [*common, "detect"]
    if args.load:
        return [*common, "load"]
    if args.train:
        return [*common, "train", "--dataset", args.dataset]
    if args.serve:
        return [*common, "serve", *(["--rag", args.rag] if args.rag else [])]
    return [*common, "eval", args.eval]


def resolve_rag(rag: str | None) -> str | None:
    """`--rag` as given when it exists, else `default` (the index `kubetrainer index` builds), with a note."""
    if rag is None or Path(rag).exists():
        return rag
    sys.stderr.write(f"note: {rag} does not exist, so the data home's default index is served "
                     f"(`kubetrainer index --source DUMP --index {rag}` builds one there)\n")
    return "default"


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    args.rag = resolve_rag(args.rag)
    _ensure_kubetrainer()
    from kubetrainer.cli import main as cli_main
    from kubetrainer.cli.commands import available

    cli_args = to_cli_args(args)
    command = next(arg for arg in cli_args if not arg.startswith("-") and arg not in (args.home,))
    if command not in available():
        sys.stderr.write(
            f"error: the `{command}` stage is not part of this build of KubeTrainer yet; "
            "see `kubetrainer --help` for what is available\n"
        )
        return 3
    return cli_main(cli_args)


if __name__ == "__main__":
    sys.exit(main())
