# Every target bootstraps .venv on first use; only python3 and git are assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

# The service on SQLite under ./var/demo with a hooked demo repository: a refused push, an
# accepted one, a query over HTTP; then it keeps serving (PORT=8080 by default; Ctrl-C stops).
run: $(STAMP)
	BIN=$(BIN) sh examples/service-demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m 'not slow'

bench: $(STAMP)
	$(BIN)/python bench/check_bench.py
	$(BIN)/python bench/policy_cost.py
	$(BIN)/python bench/hook_bench.py
	$(BIN)/python bench/audit_bench.py --dir bench/corpus/audit-log
	$(BIN)/python bench/service_bench.py --dir bench/corpus/audit-log

clean:
	rm -rf $(VENV) bench/corpus
