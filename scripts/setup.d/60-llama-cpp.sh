#!/usr/bin/env bash
# llama-cpp-python, the optional llama.cpp engine (`kubetrainer serve --engine llamacpp|auto`,
# kubetrainer/generation/llamacpp.py), into .venv, without ever making a set-up wait for its build:
#   - installed at the pinned version: nothing to do;
#   - a wheel cached in $KUBETRAINER_CACHE/wheels: installed now (seconds);
#   - neither: the wheel is built from the PyPI sdist in the background (detached, nice 19, about
#     an hour on 2 cores), logged to $KUBETRAINER_CACHE/llama-cpp-build.log and left in
#     $KUBETRAINER_CACHE/wheels, so a later `make setup-test` installs it. Until then `--engine auto`
#     serves with transformers and tests/generation/test_llamacpp.py skips, naming the missing wheel.
# One build at a time: the build holds $KUBETRAINER_CACHE/llama-cpp-build.lock (flock).
# Not in the core set (`make setup`): `make run` serves with transformers and must stay fast.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."
source scripts/lib.sh
version=0.3.36
wheels="$KUBETRAINER_CACHE/wheels"
lock="$KUBETRAINER_CACHE/llama-cpp-build.lock"
log="$KUBETRAINER_CACHE/llama-cpp-build.log"
mkdir -p "$wheels"

if [[ ${1:-} == --detached ]]; then  # the background build; it inherited the lock on fd 9
  start=$EPOCHREALTIME
  staging=$(mktemp -d "$wheels/.building.XXXXXX")
  rc=0
  step "llama-cpp-python $version: building the wheel from the sdist"
  .venv/bin/pip wheel --no-deps --no-binary llama-cpp-python --progress-bar off -w "$staging" \
    "llama-cpp-python==$version" 9>&- || rc=$?
  if ((rc == 0)); then
    mv "$staging"/llama_cpp_python-*.whl "$wheels"/  # whole, or not at all: a later set-up never sees half a wheel
  fi
  rm -rf "$staging"
  echo "llama-cpp-python: background build $( ((rc == 0)) && echo done || echo "failed (exit $rc)") after $(elapsed "$start")"
  exit $rc
fi

installed=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)
if [[ $installed == "$version" ]] && .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
  echo "llama-cpp-python: up to date ($version)"
  exit 0
fi
wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl 2>/dev/null | tail -1 || true)
if [[ -n $wheel ]]; then
  step "llama-cpp-python: installing the cached wheel $(basename "$wheel")"
  pip_install "llama-cpp-python (cached wheel)" -c constraints.txt "$wheel"
  exit 0
fi
exec 9>>"$lock"
if ! flock -n 9; then
  echo "llama-cpp-python: already being built in the background (log: $log)"
  exit 0
fi
# The lock goes with the build (it shares fd 9), so no second build starts meanwhile.
setsid nice -n 19 bash "$self" --detached </dev/null >"$log" 2>&1 9>&9 &
echo "llama-cpp-python: building the wheel in the background at low priority (log: $log);" \
     "a later make setup-test installs it, and until then --engine auto serves with transformers"
