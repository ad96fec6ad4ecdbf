"""In a real browser, offline: the grading report reads well and a lesson's deck runs.

Skipped unless ``BAM_BROWSER=1`` (tests/browser/run.sh). Every request that is not a local file
is refused and recorded, so a page that needs the network fails. Screenshots go to
``tests/browser/artifacts/grade_report.png`` and ``slides_01.png``, to look at.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import browser_lab
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import classroom  # noqa: E402

from tools import grade, slides  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.environ.get("BAM_BROWSER") != "1", reason="real-browser test: run tests/browser/run.sh"
)
LEARNERS = {"ada", "ben", "cy", "dee", "fay", "gus", "kim", "lou", "ned"}


@pytest.fixture(scope="module")
def browser():
    with browser_lab.chromium() as chromium:
        yield chromium


def offline_page(browser, viewport=(1400, 900)):
    """A page that may load local files only; returns it and the list of refused URLs."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    refused: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file://", "data:")):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    page.route("**/*", route)
    return page, refused


def test_the_grading_report_shows_each_learner_and_opens_a_message(browser, tmp_path):
    folder = tmp_path / "class"
    expected = classroom.write_class(folder, names=LEARNERS)
    grade.main([str(folder), "--timeout", str(classroom.TIMEOUT_S)])
    page, refused = offline_page(browser)
    try:
        page.goto((folder / "report.html").as_uri())
        rows = page.locator("#grades tbody tr")
        assert rows.count() == len(expected)
        failed = page.locator("#grades td.failed").first
        message = failed.get_attribute("title")
        assert message  # shown on hover
        assert not failed.locator("details p").is_visible()
        failed.locator("summary").click()
        assert failed.locator("details p").is_visible()
        assert failed.locator("details p").inner_text() == message
        colours = page.evaluate(
            """() => [...document.querySelectorAll('#grades tbody td:nth-child(3)')]
                 .map(td => getComputedStyle(td).backgroundColor)"""
        )
        assert len(set(colours)) == len({status for status, _ in expected.values()})
        browser_lab.ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(browser_lab.ARTIFACTS / "grade_report.png"), full_page=True)
    finally:
        page.close()
    assert refused == []


def test_a_lesson_deck_runs_offline_with_its_maths_and_figures(browser):
    out = browser_lab.ARTIFACTS / "slides"
    slides.main(["build", str(classroom.LESSON), "--out", str(out), "--fast"])
    page, refused = offline_page(browser, (1280, 800))
    try:
        page.goto((out / f"{classroom.LESSON.stem}.slides.html").as_uri())
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
        total = page.evaluate("() => Reveal.getTotalSlides()")
        assert total > 5
        page.wait_for_function(
            "() => document.querySelectorAll('.MathJax_CHTML, .MathJax').length > 0",
            timeout=30_000,
        )
        # Walk to the first slide with a figure: it is on screen and drawn.
        for _ in range(total):
            if page.evaluate("() => !!Reveal.getCurrentSlide().querySelector('img')"):
                break
            page.keyboard.press("Space")  # next slide, sub-slides included
        image = page.locator("section.present img").first
        assert image.is_visible() and image.evaluate("img => img.naturalWidth") > 100
        page.screenshot(path=str(browser_lab.ARTIFACTS / "slides_01.png"))
    finally:
        page.close()
    assert refused == []
