# Every target bootstraps .venv on first use; only python3 and git are assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test test-fast bench browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q auditsvc
	rm -f $(VENV)/.installed-*
	touch $@

# The service on SQLite under ./var/demo with a hooked demo repository: a refused push, an
# accepted one, a query over HTTP; then it keeps serving (PORT=8080 by default; Ctrl-C stops).
run: $(STAMP)
	BIN=$(BIN) sh examples/service-demo.sh

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q

# The HTML export's test renders it in headless Chromium: Debian's package, installed once.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test-fast: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q -m 'not slow'

# compileall: hooks start a fresh Python per push; bytecode must not be compiled each time
# (PYTHONDONTWRITEBYTECODE, set on some machines, would otherwise keep it from being cached).
bench: $(STAMP)
	$(BIN)/python -m compileall -q auditsvc
	$(BIN)/python bench/check_bench.py
	$(BIN)/python bench/policy_cost.py
	$(BIN)/python bench/hook_bench.py
	$(BIN)/python bench/audit_bench.py --dir bench/corpus/audit-log
	$(BIN)/python bench/service_bench.py --dir bench/corpus/audit-log
	$(BIN)/python bench/backend_bench.py
	$(BIN)/python bench/export_bench.py

clean:
	rm -rf $(VENV) bench/corpus
