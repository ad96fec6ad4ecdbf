# Every target sets itself up: it creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The exact torch build to install (pyproject.toml leaves torch unbounded for Colab and conda).
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
INSTALLED := $(VENV)/.installed
# Idle OpenMP threads sleep instead of spinning: on a small, shared CPU spinning threads slow
# PyTorch several-fold.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: lab test test-browser lint format bench train student artifacts site site-fast clean-venv

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab notebooks/00_welcome.ipynb

lint: $(INSTALLED)
	$(VENV)/bin/ruff check bam tests tools notebooks
	$(VENV)/bin/ruff format --check bam tests tools notebooks

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix bam tests tools notebooks
	$(VENV)/bin/ruff format bam tests tools notebooks

test: lint
	BAM_FAST=1 $(PY) -m pytest --nbval-lax tests notebooks

# Student copies of the lessons: solutions replaced by stubs (never edit notebooks/student/).
student: $(INSTALLED)
	$(PY) -m bam.course student

# Lesson 07 in JupyterLab in headless Chromium: the attention explorer renders and responds.
test-browser: $(INSTALLED)
	PY=$(PY) tests/browser/run.sh $(NOTEBOOK)

bench: $(INSTALLED)
	$(PY) -m bam.bench $(ARGS)

train: $(INSTALLED)
	$(PY) -m bam.train $(ARGS)

# Retrain every network and grid that ships in bam/results/ (resumable, in runs/artifacts/),
# then rewrite the manifest and list the figures that changed. See tools/artifacts.py.
artifacts: $(INSTALLED)
	$(PY) tools/artifacts.py $(ARGS)

# The rendered course: every lesson executed (full CPU run) into build/site/ (open
# build/site/index.html, or serve the folder). Cached: a rebuild re-executes only the lessons
# whose code changed. site-fast executes in fast mode into build/site-fast/ (what CI checks).
SITE_INSTALLED := $(VENV)/.installed-site
$(SITE_INSTALLED): $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,site]"
	touch $@

site: $(SITE_INSTALLED)
	$(PY) tools/build_site.py $(ARGS)

site-fast: $(SITE_INSTALLED)
	$(PY) tools/build_site.py --fast $(ARGS)

clean-venv:
	rm -rf $(VENV)
