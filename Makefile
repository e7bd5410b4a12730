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
	rm -f $(VENV)/.installed-*
	touch $@

# Check the bundled examples: one clean app, one that breaks policy and schema.
# Exit status 1 (policy failures found) is the expected demo outcome.
run: $(STAMP)
	$(BIN)/auditsvc check examples/good; \
	$(BIN)/auditsvc check examples/bad; status=$$?; [ $$status -le 1 ]

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q

# The HTML export's test renders it in headless Chromium: Debian's package, installed once.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test-fast: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q -m 'not slow'

bench: $(STAMP)
	$(BIN)/python bench/check_bench.py
	$(BIN)/python bench/policy_cost.py
	$(BIN)/python bench/hook_bench.py
	$(BIN)/python bench/audit_bench.py
	$(BIN)/python bench/export_bench.py

clean:
	rm -rf $(VENV) bench/corpus
