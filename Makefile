# Every target installs what it needs first, so a fresh clone works with one command.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)

# The embedded default: everything under ./.lakehouse (git-ignored), persistent across restarts.
export LAKEHOUSE_HOME ?= $(CURDIR)/.lakehouse
export DAGSTER_HOME ?= $(CURDIR)
export LAKEHOUSE_DAGSTER_STORAGE ?= $(LAKEHOUSE_HOME)/dagster

.PHONY: install demo dev dev-aws test bench clean

$(STAMP): setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

demo: install
	@mkdir -p $(LAKEHOUSE_DAGSTER_STORAGE)
	$(BIN)/lakehouse demo

dev: install
	@mkdir -p $(LAKEHOUSE_DAGSTER_STORAGE)
	$(BIN)/dagster dev -w workspace.yaml

dev-aws: install
	@mkdir -p $(LAKEHOUSE_DAGSTER_STORAGE)
	$(BIN)/python -m lakehouse.devaws

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf .lakehouse
