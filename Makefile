# Every target sets itself up: it creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The exact torch build to install (pyproject.toml leaves torch unbounded for Colab and conda).
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
INSTALLED := $(VENV)/.installed

.PHONY: lab test lint format train clean-venv

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab notebooks/00_welcome.ipynb

lint: $(INSTALLED)
	$(VENV)/bin/ruff check bam tests notebooks
	$(VENV)/bin/ruff format --check bam tests notebooks

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix bam tests notebooks
	$(VENV)/bin/ruff format bam tests notebooks

test: lint
	BAM_FAST=1 $(PY) -m pytest --nbval-lax tests notebooks

train: $(INSTALLED)
	$(PY) -m bam.train $(ARGS)

clean-venv:
	rm -rf $(VENV)
