# One-step set-up, then run or test. `make run` and `make test` install what they need first.
PY ?= python3
TORCH ?= torch==2.13.0

.PHONY: setup run run-quick test test-all lint bench

.setup-done: pyproject.toml scripts/setup.sh
	PY=$(PY) TORCH=$(TORCH) bash scripts/setup.sh
	touch .setup-done

setup: .setup-done

run: .setup-done
	reram run --out results/run

run-quick: .setup-done
	reram run --quick --out results/quick

test: .setup-done
	$(PY) -m pytest -q

test-all: .setup-done
	$(PY) -m pytest -q -m ""

lint: .setup-done
	ruff check src tests benchmarks && ruff format --check src tests benchmarks && mypy

bench: .setup-done
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/cost_scale.py
