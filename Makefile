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

.PHONY: lab test test-unit test-oldest-torch test-integration test-browser lint format bench gpu-check train student progress artifacts grade slides site site-fast clean-venv

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# JupyterLab on notebooks/ with lesson 00 open, at a URL printed before it starts (the token is
# made here and passed in the environment, where other users cannot read it). JupyterLab refuses
# to run as root (containers, cloud machines, CI) unless given --allow-root: as root it gets it,
# and says so.
# LAB_PORT picks the port; LAB_ARGS passes more options, e.g. LAB_ARGS="--ip=0.0.0.0".
LAB_PORT ?= 8888
LAB_ARGS ?=

# Grading and slides need a few more packages (the `teach` extra), the grid's executor one more
# (`grid`); the tests use them all.
TEACH := $(VENV)/.installed-teach
$(TEACH): $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,teach,grid]"
	touch $@

lab: $(INSTALLED)
	@token=$$($(PY) -c "import secrets; print(secrets.token_hex(24))"); root=; \
	if [ "$$(id -u)" = 0 ]; then \
		root=--allow-root; echo "running as root: JupyterLab needs --allow-root, so it is passed"; \
	fi; \
	echo "JupyterLab starts; open http://localhost:$(LAB_PORT)/lab/tree/00_welcome.ipynb?token=$$token"; \
	JUPYTER_TOKEN=$$token exec $(VENV)/bin/jupyter lab --port=$(LAB_PORT) --ServerApp.port_retries=0 \
		$$root $(LAB_ARGS) notebooks/00_welcome.ipynb

lint: $(INSTALLED)
	$(VENV)/bin/ruff check conftest.py bam tests tools notebooks
	$(VENV)/bin/ruff format --check conftest.py bam tests tools notebooks

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix conftest.py bam tests tools notebooks
	$(VENV)/bin/ruff format conftest.py bam tests tools notebooks

# The grader's, the slides' and the grid executor's tests need the extras. The tests run in
# TEST_WORKERS processes (pytest-xdist), TEST_THREADS threads each (OMP_NUM_THREADS from the
# environment if it is set, else one: `OMP_NUM_THREADS=2 make test` runs two). One: the
# fast-mode tensors are too small for a second thread to pay, and two threads per process on
# two cores oversubscribe them (measured: 1.5x faster than one process). A test file's tests,
# and a notebook's cells, stay together in one process, in order. TEST_WORKERS=0 runs
# everything in this process. `make test-unit` runs tests/ alone (no notebooks); CI runs it
# again with TEST_THREADS=2, where PyTorch splits its work and sums in another order, as on a
# learner's machine.
# The tests marked `integration` build what surrounds the course: a Colab runtime that installs
# it from git, a class graded in Jupyter kernels, slide decks, JupyterLab, grid workers. In a
# student copy, the cells after its last exercise (marked `after_exercises`) are its lesson's
# code, which running the lesson tests. `make test` leaves both to `make test-integration`,
# which also runs every student copy whole; CI runs both, and a bare `pytest` runs everything.
TEST_WORKERS ?= 2
TEST_THREADS ?= $(or $(OMP_NUM_THREADS),1)
PYTEST := BAM_FAST=1 OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile
test: lint $(TEACH)
	$(PYTEST) --nbval-lax -m "not integration and not after_exercises" tests notebooks

test-unit: $(TEACH)
	$(PYTEST) -m "not integration" tests

# The oldest PyTorch that pyproject.toml admits, in a venv of its own: the unit tests and the
# lessons in fast mode run on it too (CI does). torch 2.6.0 and torchvision 0.21.0 are about
# 2.9 GB to download (33 s here) and the run about 3 minutes on 2 cores.
OLDEST_TORCH_PINS ?= torch==2.6.0 torchvision==0.21.0
OLDEST_VENV ?= .venv-oldest-torch
test-oldest-torch:
	test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(OLDEST_TORCH_PINS)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,teach,grid]"
	$(OLDEST_VENV)/bin/python -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
	BAM_FAST=1 OMP_NUM_THREADS=$(TEST_THREADS) $(OLDEST_VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile --nbval-lax -m "not integration and not after_exercises" tests notebooks

test-integration: $(TEACH)
	$(PYTEST) -m integration tests
	$(PYTEST) --nbval-lax notebooks/student

# Student copies of the lessons: solutions replaced by stubs (never edit notebooks/student/).
# First the lessons' time and difficulty lines (notebooks/lessons.toml) and the guide's answers.
student: $(INSTALLED)
	$(PY) -m tools.course sync
	$(PY) -m tools.course student

# Which exercises of your student copies pass, and what the first failing check says: each copy
# is checked as the grader checks a class, with what `dev` installs (ARGS="--lesson 03", or a
# folder of your own copies: ARGS=DIR).
progress: $(INSTALLED)
	$(PY) -m tools.progress $(ARGS)

# Lesson 07 in JupyterLab in headless Chromium: the attention explorer renders and responds.
test-browser: $(INSTALLED)
	PY=$(PY) tests/browser/run.sh $(NOTEBOOK)

bench: $(INSTALLED)
	$(PY) -m bam.bench $(ARGS)

# The GPU self-check (python -m bam.bench gpu): on a machine without a CUDA GPU, one line.
gpu-check: $(INSTALLED)
	$(PY) -m bam.bench gpu $(ARGS)

train: $(INSTALLED)
	$(PY) -m bam.train $(ARGS)

# Retrain every network and grid that ships in bam/results/ (resumable, in runs/artifacts/),
# then rewrite the manifest and list the figures that changed. See tools/artifacts.py. Its jobs
# run in the grid's worker pool, which needs the `grid` extra.
GRID := $(VENV)/.installed-grid
$(GRID): $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,grid]"
	touch $@

artifacts: $(GRID)
	$(PY) -m tools.artifacts $(ARGS)

# Grade a class: every notebook in SUBMISSIONS (and one level down) -> grades.csv, report.html.
grade: $(TEACH)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=DIR [ARGS='--lesson 01']" >&2; exit 2; }
	$(PY) -m tools.grade "$(SUBMISSIONS)" $(ARGS)

# One reveal.js deck per lesson in build/slides/, from a real run (ARGS=--fast to check quickly).
slides: $(TEACH)
	$(PY) -m tools.slides build $(ARGS)

# The rendered course: every lesson executed (full CPU run) into build/site/ (open
# build/site/index.html, or serve the folder). Cached: a rebuild re-executes only the lessons
# whose code changed. site-fast executes in fast mode into build/site-fast/ (what CI checks).
SITE_INSTALLED := $(VENV)/.installed-site
$(SITE_INSTALLED): $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,site]"
	touch $@

site: $(SITE_INSTALLED)
	$(PY) -m tools.build_site $(ARGS)

site-fast: $(SITE_INSTALLED)
	$(PY) -m tools.build_site --fast $(ARGS)

clean-venv:
	rm -rf $(VENV)
