.PHONY: install test demo dev

VENV := .venv
PY := $(VENV)/bin/python

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q -e '.[test]'

test: install
	$(PY) -m pytest -q tests

demo: install
	$(VENV)/bin/seqflow demo

dev:
	$(VENV)/bin/seqflow dev
