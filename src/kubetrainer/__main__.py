"""`python -m kubetrainer` is the `kubetrainer` command."""

from kubetrainer.cli import run

run()
