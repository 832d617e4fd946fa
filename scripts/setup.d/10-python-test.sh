#!/usr/bin/env bash
# The Python extras only the tests and benchmarks use, into the .venv the core set made:
# `test` (pytest, hypothesis, playwright, schemathesis, kubernetes-validate, ruff, openai, detect-secrets, trl,
# langchain-text-splitters for the RAG benchmark's file-chunk baseline),
# `chroma` (the optional Chroma index backend, tested) and DeepSpeed (ZeRO, tested on the CPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
stamp=.venv/.stamp-python-test
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then echo "python test extras: up to date"; exit 0; fi
step "python: test extras (.[test,chroma], deepspeed)"
pip_install "python test extras" -c constraints.txt -e '.[test,chroma]'
# DeepSpeed (the `deepspeed` extra) builds against the torch already installed; its
# kernels are compiled on first use, so the tests run ZeRO on the CPU (gloo) too.
DS_BUILD_OPS=0 pip_install deepspeed --no-build-isolation -c constraints.txt deepspeed
echo "$want" > "$stamp"
