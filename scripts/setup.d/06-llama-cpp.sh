#!/usr/bin/env bash
# llama-cpp-python, the optional llama.cpp engine (`kubetrainer serve --engine llamacpp|auto`,
# kubetrainer/generation/llamacpp.py), into .venv, without ever making a set-up wait for its build:
#   - installed at the pinned version: nothing to do;
#   - a wheel cached in $KUBETRAINER_CACHE/wheels: installed now (seconds);
#   - neither: the wheel is built from the PyPI sdist in the background (detached, nice 19),
#     logged to $KUBETRAINER_CACHE/llama-cpp-build.log and left in $KUBETRAINER_CACHE/wheels.
#     Until it is installed `--engine auto` serves with transformers.
#   06-llama-cpp.sh --wait   (tests/conftest.py, before the first test that uses llama.cpp) wait
#                            for the background build (or build now, when none ran), then install.
# Early in the test set, so the build runs while the rest is set up and the other tests run.
# The build skips llama-cpp-python's llava/mtmd library (LLAVA_BUILD=OFF): the engine runs text
# models only. One build at a time: it holds $KUBETRAINER_CACHE/llama-cpp-build.lock (flock).
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

cached_wheel() { ls "$wheels"/llama_cpp_python-"$version"-*.whl 2>/dev/null | tail -1 || true; }

build_wheel() { # with the lock held on fd 9
  local staging rc=0
  [[ -n $(cached_wheel) ]] && return 0  # another build finished it while this one waited for the lock
  staging=$(mktemp -d "$wheels/.building.XXXXXX")
  step "llama-cpp-python $version: building the wheel from the sdist (log: $log)"
  # -v: cmake's and ninja's lines ("[12/140] Building CXX object ..."), which the progress counts
  CMAKE_ARGS="-DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" .venv/bin/pip wheel -v --no-deps --no-binary llama-cpp-python \
    --progress-bar off -w "$staging" "llama-cpp-python==$version" 9>&- || rc=$?
  if ((rc == 0)); then
    mv "$staging"/llama_cpp_python-*.whl "$wheels"/  # whole, or not at all: a later set-up never sees half a wheel
  fi
  rm -rf "$staging"
  return $rc
}

install_cached() {
  local wheel
  wheel=$(cached_wheel)
  step "llama-cpp-python: installing the cached wheel $(basename "$wheel")"
  pip_install "llama-cpp-python (cached wheel)" -c constraints.txt "$wheel"
}

if [[ ${1:-} == --detached ]]; then  # the background build; it inherited the lock on fd 9
  detached llama-cpp-python build_wheel
  exit
fi

installed=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)
if [[ $installed == "$version" ]] && .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
  echo "llama-cpp-python: up to date ($version)"
  exit 0
fi
[[ -n $(cached_wheel) ]] && { install_cached; exit 0; }
exec 9>>"$lock"
case ${1:-} in
  "")
    start_detached llama-cpp-python "$log" 19 "$self" || exit 0
    echo "llama-cpp-python: building the wheel in the background at low priority (log: $log);" \
         "the tests that use it wait for it, and until it is installed --engine auto serves with transformers"
    ;;
  --wait)
    wait_for_lock llama-cpp-python "$log"
    build_wheel 2>&1 | tee -a "$log" | progress "llama-cpp-python" "build steps" "" '^ *\[[0-9]+/[0-9]+\] ' \
      || { tail -20 "$log" >&2; exit 1; }
    install_cached
    ;;
  *) echo "usage: 06-llama-cpp.sh [--wait]" >&2; exit 2 ;;
esac
