# The README's two commands: `make run` and `make test` (plus `make bench`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INSTANCE ?= $(CURDIR)/instance
PORT ?= 5000

# The message catalogs (zh_CN; English is the source language) compiled for Flask-Babel.
PO := $(wildcard lims/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test bench install clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) $(MO)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

# After marking new strings: gather them into the catalogs, then translate the empty msgstr.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 -k msg -k tr --no-location \
	    --sort-output -o $(VENV)/messages.pot lims
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d lims/translations --no-wrap \
	    --ignore-obsolete --no-fuzzy-matching

# Set up the instance (SQLite, development PKI, demo data), attach a simulated balance,
# multimeter and hygrometer on pseudo-terminals, read them through one capture agent (its
# log in $(INSTANCE)/agent.log) and serve the app at http://127.0.0.1:$(PORT).
run: $(STAMP) $(MO)
	LIMS_INSTANCE_PATH=$(INSTANCE) $(BIN)/lims init
	LIMS_INSTANCE_PATH=$(INSTANCE) $(BIN)/lims demo --agent-server http://127.0.0.1:$(PORT)
	@dev=$(INSTANCE)/dev; pids=""; \
	  $(BIN)/lims simulate mt-sics --link $$dev/balance-1 --serial-number B021002593 \
	      --set load=100.02 > /dev/null & pids="$$pids $$!"; \
	  $(BIN)/lims simulate scpi-dmm --link $$dev/dmm-1 --serial-number MY45012345 \
	      > /dev/null & pids="$$pids $$!"; \
	  $(BIN)/lims simulate vaisala-hmt330 --link $$dev/hygrometer-1 --serial-number G1234567 \
	      > /dev/null & pids="$$pids $$!"; \
	  $(BIN)/lims agent --config $(INSTANCE)/agent.toml > $(INSTANCE)/agent.log 2>&1 & \
	      pids="$$pids $$!"; \
	  trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	  echo "simulated bench: EQ-BAL-001 balance, EQ-DMM-001 multimeter, EQ-HYG-001 hygrometer in $$dev"; \
	  echo "read by the capture agent of $(INSTANCE)/agent.toml (log: $(INSTANCE)/agent.log)"; \
	  echo "access log: $(INSTANCE)/access.log"; \
	  LIMS_INSTANCE_PATH=$(INSTANCE) $(BIN)/lims serve --host 127.0.0.1 --port $(PORT) \
	      --access-log $(INSTANCE)/access.log

# Two workers: many tests wait on browsers, ptys and servers, so two keep a 2-core machine busy.
# Work stealing evens out the long tests (schemathesis, the agent runs) near the end.
TEST_WORKERS ?= 2
test: $(STAMP) $(MO)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

bench: $(STAMP) $(MO)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/registration.py
	$(BIN)/python bench/uncertainty.py
	$(BIN)/python bench/capture.py
	$(BIN)/python bench/traceability.py
	$(BIN)/python bench/issuing.py
	$(BIN)/python bench/lists.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/passrates.py
	$(BIN)/python bench/audit_trail.py
	$(BIN)/python bench/whitepaper.py
	$(BIN)/python bench/bulk_import.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
