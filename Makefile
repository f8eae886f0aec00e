.PHONY: install test demo dev chromium
CHROMIUM ?= /usr/bin/chromium

VENV := .venv
PY := $(VENV)/bin/python

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q -e '.[test]'

# Three workers: most of a test's time is spent waiting for services and the broker, not on the 2 cores.
test: install chromium
	$(PY) -m pytest -q -n 3 tests

# The browser tests (tests/ui) drive Debian's Chromium; say how to get it rather than fail later.
chromium:
	@test -x $(CHROMIUM) || { echo "The web UI tests need Chromium at $(CHROMIUM):"; \
		echo "  sudo apt-get install -y chromium"; exit 1; }

demo: install
	$(VENV)/bin/seqflow demo

# The whole stack with demo data; prints the web UI's URL and a sign-in token. Ctrl-C stops it.
dev: install
	$(VENV)/bin/seqflow dev --demo
