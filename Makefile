# The two commands a newcomer needs: `make run` and `make test`. Both set up first.
.PHONY: setup run test bench cluster-up cluster-down clean

setup:
	@bash scripts/setup.sh

run: setup
	@bash scripts/run.sh

test: setup
	@bash scripts/test.sh

bench: setup
	@ONLY=$(ONLY) bash scripts/bench.sh

# The local Kubernetes control plane (scripts/k8s): kubeconfig at .cluster/kubeconfig.
cluster-up: setup
	@bash scripts/k8s/up.sh

cluster-down:
	@bash scripts/k8s/down.sh

clean:
	rm -rf .venv .pytest_cache test-artifacts
