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

.PHONY: lab test test-browser lint format bench train student grade slides clean-venv

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# Grading and slides need a few more packages (the `teach` extra).
TEACH := $(VENV)/.installed-teach
$(TEACH): $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,teach]"
	touch $@

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab notebooks/00_welcome.ipynb

lint: $(INSTALLED)
	$(VENV)/bin/ruff check bam tests notebooks tools
	$(VENV)/bin/ruff format --check bam tests notebooks tools

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix bam tests notebooks tools
	$(VENV)/bin/ruff format bam tests notebooks tools

# The grader's and the slides' tests need the `teach` extra.
test: lint $(TEACH)
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

# Grade a class: every notebook in SUBMISSIONS (and one level down) -> grades.csv, report.html.
grade: $(TEACH)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=DIR [ARGS='--lesson 01']" >&2; exit 2; }
	$(PY) -m tools.grade "$(SUBMISSIONS)" $(ARGS)

# One reveal.js deck per lesson in build/slides/, from a real run (ARGS=--fast to check quickly).
slides: $(TEACH)
	$(PY) -m tools.slides build $(ARGS)

clean-venv:
	rm -rf $(VENV)
