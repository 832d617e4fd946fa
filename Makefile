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

clean:
	rm -rf .venv .pytest_cache test-artifacts
