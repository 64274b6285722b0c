# The README's two commands: `make run` and `make test` (plus `make bench`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INSTANCE ?= $(CURDIR)/instance

.PHONY: run test bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Set up the instance (SQLite, development PKI, demo data), attach a simulated MT-SICS balance
# on a pseudo-terminal, and serve the app at http://127.0.0.1:5000.
run: $(STAMP)
	LIMS_INSTANCE_PATH=$(INSTANCE) $(BIN)/lims init
	LIMS_INSTANCE_PATH=$(INSTANCE) $(BIN)/lims demo
	@LIMS_INSTANCE_PATH=$(INSTANCE) $(BIN)/lims simulate mt-sics --link $(INSTANCE)/dev/balance-1 \
	    --serial-number B021002593 --load 100.02 > /dev/null & sim=$$!; \
	  trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	  echo "simulated balance EQ-BAL-001 on $(INSTANCE)/dev/balance-1"; \
	  LIMS_INSTANCE_PATH=$(INSTANCE) $(BIN)/lims serve --host 127.0.0.1 --port 5000

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
