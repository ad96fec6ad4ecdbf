"""Drive a real JupyterLab in headless Chromium: run a notebook, then work its widgets.

    python tests/browser/browser_lab.py [NOTEBOOK]   (default: notebooks/07_seeing_attention.ipynb)

JupyterLab is started on 127.0.0.1 at a free port with a random token and ``BAM_FAST=1``, with
its settings, workspaces and runtime files in a temporary folder. Chromium is Debian's
``chromium`` driven by Playwright (no browser download). The check opens the notebook, runs
Run > Run All Cells, waits until every code cell has run without an error, finds an ipywidgets
slider and a matplotlib figure in an ``Output`` widget, presses ArrowRight on the slider and
waits for the slider's readout and the figure to change. A screenshot goes to
``tests/browser/artifacts/<notebook>.png``. JupyterLab is always shut down (its whole process
group), also when the check fails.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEFAULT_NOTEBOOK = ROOT / "notebooks" / "07_seeing_attention.ipynb"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# User settings for the test's own JupyterLab: no news or update pop-ups over the notebook, and
# every cell attached to the page so that each prompt and output can be read.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
SERVER_START_S = 90
RUN_ALL_S = 240
WIDGET_S = 30


class LabCheckFailed(AssertionError):
    """The notebook did not run, or its widgets did not render or respond."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyter_lab(root: Path = ROOT):
    """A JupyterLab server serving ``root``; yields its base URL and token, then stops it."""
    port, token = free_port(), secrets.token_hex(16)
    home = Path(tempfile.mkdtemp(prefix="bam-lab-"))
    for name, values in LAB_SETTINGS.items():
        target = home / "settings" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = {
        **os.environ,
        "BAM_FAST": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",  # not in the repository
            *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                raise LabCheckFailed(f"JupyterLab exited early; see {ARTIFACTS / 'jupyterlab.log'}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise LabCheckFailed(f"JupyterLab not up after {SERVER_START_S} s") from None
                time.sleep(0.5)
        yield base, token
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def chromium():
    """Headless Debian Chromium under Playwright; yields a browser."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise LabCheckFailed("no `chromium` on PATH: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


# The state of every code cell: its prompt ("[ ]:", "[*]:", "[3]:") and any error output.
CELL_STATE_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')]
  .map(cell => ({
    prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
    error: [...cell.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .map(e => e.textContent)
      .filter(t => /Traceback \\(most recent|^\\s*Cell In\\[\\d+\\], line \\d+/m.test(t))
      .join('\\n').slice(0, 2000),
  }))"""
# What the Output widgets show: their images (matplotlib figures) and text.
OUTPUT_WIDGETS_JS = """() => [...document.querySelectorAll('.jp-OutputArea .widget-output')]
  .map(w => ({images: [...w.querySelectorAll('img')].map(i => i.src), text: w.innerText}))"""


def wait_for_kernel(page, timeout_s: float = 60) -> None:
    """Wait until the notebook's kernel is idle; a dialog (e.g. "Select Kernel") fails it."""
    # The status bar reads "No Kernel | Initializing", then "Python 3 (ipykernel) | Connecting",
    # then "... | Idle" once the notebook is loaded and its kernel connected.
    idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"^(?!No Kernel).+ \| Idle$"))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.locator(".jp-Dialog").count():
            text = " ".join(page.locator(".jp-Dialog").inner_text().split())
            raise LabCheckFailed(f"a dialog blocks the notebook (no python3 kernelspec?): {text!r}")
        if idle.count():
            return
        time.sleep(0.25)
    raise LabCheckFailed(f"the notebook's kernel was not ready in {timeout_s} s")


def run_all(page, timeout_s: float = RUN_ALL_S) -> int:
    """Run > Run All Cells, then wait for every code cell; returns the number of code cells."""
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    wait_for_kernel(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    started = time.monotonic()
    prompts: list[str] = []
    while time.monotonic() < started + timeout_s:
        cells = page.evaluate(CELL_STATE_JS)
        errors = [(i, c["error"]) for i, c in enumerate(cells) if c["error"]]
        if errors:
            index, text = errors[0]
            raise LabCheckFailed(f"code cell {index} raised an error:\n{text}")
        prompts = [c["prompt"] for c in cells]
        if cells and all(any(ch.isdigit() for ch in p) for p in prompts):
            return len(cells)
        if time.monotonic() > started + 30 and all(p == "[ ]:" for p in prompts):
            raise LabCheckFailed("Run > Run All Cells started nothing in 30 s")
        time.sleep(0.5)
    raise LabCheckFailed(f"the notebook did not finish in {timeout_s} s: prompts {prompts}")


def check_widgets(page, screenshot: Path, wait_s: float = WIDGET_S) -> dict:
    """A slider and a figure render; ArrowRight on the slider changes its readout and figure."""
    slider = page.locator(".jp-OutputArea .widget-slider").first
    try:
        slider.wait_for(state="visible", timeout=wait_s * 1000)
    except Exception:
        page.screenshot(path=str(screenshot))
        raise LabCheckFailed(
            f"no ipywidgets slider rendered in {wait_s} s (screenshot {screenshot})"
        ) from None
    slider.scroll_into_view_if_needed()
    before = page.evaluate(OUTPUT_WIDGETS_JS)
    if not any(w["images"] for w in before):
        raise LabCheckFailed("no figure in an Output widget next to the slider")
    readout = slider.locator(".widget-readout")
    value_before = readout.inner_text()
    slider.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        after = page.evaluate(OUTPUT_WIDGETS_JS)
        if (
            readout.inner_text() != value_before
            and after != before
            and any(w["images"] for w in after)
        ):
            break
        time.sleep(0.25)
    else:
        page.screenshot(path=str(screenshot))
        raise LabCheckFailed(
            f"ArrowRight on the slider (readout {value_before!r} -> {readout.inner_text()!r}) "
            f"did not redraw the Output widget in {wait_s} s (screenshot {screenshot})"
        )
    time.sleep(0.5)  # let the new figure paint before the picture is taken
    page.screenshot(path=str(screenshot))
    return {"readout": [value_before, readout.inner_text()], "screenshot": str(screenshot)}


def check_notebook(
    browser, base: str, token: str, notebook: Path, wait_s: float = WIDGET_S
) -> dict:
    """Open ``notebook`` in the running JupyterLab, run it, check its widgets; returns facts."""
    from playwright.sync_api import Error as PlaywrightError

    notebook = notebook.resolve()
    relpath = notebook.relative_to(ROOT).as_posix()
    screenshot = ARTIFACTS / f"{notebook.stem}.png"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        start = time.monotonic()
        page.goto(f"{base}/lab/tree/{relpath}?reset&token={token}", timeout=60_000)
        cells = run_all(page)
        ran = time.monotonic() - start
        facts = check_widgets(page, screenshot, wait_s)
        return {"notebook": relpath, "code_cells": cells, "run_all_s": round(ran, 1), **facts}
    except LabCheckFailed:
        page.screenshot(path=str(screenshot))
        raise
    except PlaywrightError as err:
        page.screenshot(path=str(screenshot))
        raise LabCheckFailed(f"{err.message.splitlines()[0]} (screenshot {screenshot})") from None
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    notebook = Path(args[0]) if args else DEFAULT_NOTEBOOK
    if not notebook.is_file():
        print(f"error: {notebook} does not exist", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        with jupyter_lab() as (base, token), chromium() as browser:
            facts = check_notebook(browser, base, token, notebook)
    except LabCheckFailed as err:
        print(f"FAILED after {time.monotonic() - start:.0f} s: {err}", file=sys.stderr)
        return 1
    print(f"ok in {time.monotonic() - start:.0f} s: {json.dumps(facts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
