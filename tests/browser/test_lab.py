"""In a real browser, a lesson's widgets render and respond (run by `make test-browser`).

Skipped unless ``BAM_BROWSER=1`` (tests/browser/run.sh sets it after installing Chromium and
Playwright). ``BAM_BROWSER_NOTEBOOK`` picks the lesson (default: 07_seeing_attention).
"""

from __future__ import annotations

import os
from pathlib import Path

import browser_lab
import nbformat
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("BAM_BROWSER") != "1", reason="real-browser test: run tests/browser/run.sh"
)

FIXTURE = Path(__file__).resolve().parent / "widget_demo.ipynb"
LESSON = Path(os.environ.get("BAM_BROWSER_NOTEBOOK") or browser_lab.DEFAULT_NOTEBOOK)
SHORT_WAIT_S = 5  # the broken variants fail after this long instead of the full wait


@pytest.fixture(scope="module")
def lab():
    """One JupyterLab and one browser for the module; both are shut down afterwards."""
    with browser_lab.jupyter_lab() as (base, token), browser_lab.chromium() as browser:

        def check(notebook: Path, **kw) -> dict:
            return browser_lab.check_notebook(browser, base, token, notebook, **kw)

        yield check


def variant(name: str, change) -> Path:
    """A copy of the fixture notebook, changed by ``change(nb)``, under the artifacts folder."""
    nb = nbformat.read(FIXTURE, as_version=4)
    change(nb)
    browser_lab.ARTIFACTS.mkdir(exist_ok=True)
    path = browser_lab.ARTIFACTS / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def without_line(start: str):
    def change(nb):
        cell = nb.cells[2]
        cell.source = "\n".join(ln for ln in cell.source.splitlines() if not ln.startswith(start))

    return change


def test_lesson_widgets_render_and_respond_to_the_keyboard(lab):
    if not LESSON.is_file():
        pytest.skip(f"{LESSON.name} does not exist yet")
    facts = lab(LESSON)
    assert facts["readout"][0] != facts["readout"][1]
    assert Path(facts["screenshot"]).stat().st_size > 10_000


def test_fixture_slider_redraws_its_figure(lab):
    facts = lab(FIXTURE)
    assert facts["readout"] == ["1", "2"]
    assert Path(facts["screenshot"]).stat().st_size > 10_000


def test_a_notebook_whose_widgets_are_never_displayed_fails(lab):
    notebook = variant("no_widget", without_line("display("))
    with pytest.raises(browser_lab.LabCheckFailed, match="no ipywidgets slider rendered"):
        lab(notebook, wait_s=SHORT_WAIT_S)


def test_a_slider_that_redraws_nothing_fails(lab):
    notebook = variant("no_redraw", without_line("frequency.observe("))
    with pytest.raises(browser_lab.LabCheckFailed, match="did not redraw the Output widget"):
        lab(notebook, wait_s=SHORT_WAIT_S)


def test_a_failing_cell_fails_the_run(lab):
    def change(nb):
        nb.cells.insert(2, nbformat.v4.new_code_cell('raise RuntimeError("broken lesson")'))

    with pytest.raises(browser_lab.LabCheckFailed, match="broken lesson"):
        lab(variant("error", change))


def test_a_notebook_without_kernelspec_is_blocked_by_a_dialog(lab):
    def change(nb):
        nb.metadata = {}

    with pytest.raises(browser_lab.LabCheckFailed, match="dialog blocks the notebook"):
        lab(variant("no_kernelspec", change))
