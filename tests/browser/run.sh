#!/usr/bin/env bash
# The real-browser test: a lesson's widgets render and respond in JupyterLab under Chromium.
# Installs what it needs on first use: Debian's chromium (apt) and Playwright (PyPI; never
# `playwright install`, which downloads its own browser). Usage: tests/browser/run.sh [NOTEBOOK]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
PLAYWRIGHT=${PLAYWRIGHT:-playwright==1.65.2}

if ! command -v chromium >/dev/null; then
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
"$PY" -c "import playwright" 2>/dev/null ||
    "$PY" -m pip install --quiet --disable-pip-version-check "$PLAYWRIGHT"

export BAM_BROWSER=1 BAM_FAST=1 BAM_BROWSER_NOTEBOOK="${1:-}"
exec "$PY" -m pytest -q -p no:cacheprovider tests/browser
