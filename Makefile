# The README's commands. Every target is idempotent: a second run works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_EVENTS ?= 1000000

.PHONY: setup demo test lint fuzz bench clean

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $(INSTALLED)

demo: setup
	$(BIN)/analytics demo

lint: setup
	$(BIN)/ruff check pipelines tests benchmarks
	$(BIN)/ruff format --check pipelines tests benchmarks
	$(BIN)/sqlfluff lint models macros tests analyses

# pytest's exit code 5 means it collected no tests: that is a failure, never a pass.
test: lint
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# The loaders' fuzz tests at length (random, FUZZ_EXAMPLES inputs per test); `make test`
# runs the same tests in a short deterministic profile.
FUZZ_EXAMPLES ?= 20000
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest \
		tests/python/test_fuzz_loaders.py --hypothesis-show-statistics

bench: setup
	BENCH_EVENTS=$(BENCH_EVENTS) $(BIN)/python -m benchmarks

clean:
	rm -rf target logs dbt_packages .pytest_cache .ruff_cache
