"""The process torchrun starts for `kubetrainer train --nproc N`: one rank of an existing run."""

from __future__ import annotations

import argparse
from pathlib import Path

from kubetrainer.config import Settings
from kubetrainer.train import engine, runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kubetrainer.train.worker")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    config = runs.read_config(args.run_dir)
    engine.run(config, Settings(home=args.home), resume=args.resume, notify=print)


if __name__ == "__main__":
    main()
