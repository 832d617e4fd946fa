# The two commands a newcomer needs: `make run` and `make test`. Each sets up first what it
# uses: `make run` only the core set (scripts/setup.sh), `make test` the test set as well.
.PHONY: setup setup-test run test bench cold cluster-up cluster-down clean

# The core set: .venv, the model packages, the agent (built in the background; `make setup-test`
# waits for it). Minutes on a fresh machine.
setup:
	@bash scripts/setup.sh

# The core set, then everything tests and benchmarks use (scripts/setup.d/*.sh): the first
# time on a machine this includes the control-plane build (see README).
setup-test:
	@bash scripts/setup.sh test

run: setup
	@bash scripts/run.sh

test: setup-test
	@bash scripts/test.sh

bench: setup-test
	@ONLY=$(ONLY) bash scripts/bench.sh

# A cold start measured: a fresh clone with empty caches in a temp dir, then `make run` and
# `make test`, timed (COLD_STEPS=run stops after `make run`).
cold:
	@bash scripts/cold.sh

# The local Kubernetes control plane (scripts/k8s): kubeconfig at .cluster/kubeconfig.
cluster-up: setup
	@bash scripts/k8s/build.sh
	@bash scripts/k8s/up.sh

cluster-down:
	@bash scripts/k8s/down.sh

clean:
	rm -rf .venv .pytest_cache test-artifacts
