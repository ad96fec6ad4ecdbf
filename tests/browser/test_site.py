"""The rendered course in a real browser: every page, image and link works, and every hint and
answer is folded (make test-browser).

Skipped unless ``BAM_BROWSER=1`` (tests/browser/run.sh). The site checked is ``BAM_SITE``
(default ``build/site``, from ``make site``); a site that ``BAM_SITE`` names must exist, one
left to the default is skipped until it has been built. The broken variants are small sites
written here, so each check is shown to fail on the fault it guards against.
"""

from __future__ import annotations

import os
from pathlib import Path

import browser_site
import pytest

from tools.course.repo import repository

pytestmark = pytest.mark.skipif(
    os.environ.get("BAM_BROWSER") != "1", reason="real-browser test: run tests/browser/run.sh"
)

SITE = Path(os.environ.get("BAM_SITE") or browser_site.DEFAULT_SITE)
SLUG = repository().removeprefix("https://github.com/")
LESSON = "07_seeing_attention"
COLAB = browser_site.COLAB.format(slug=SLUG, lesson=LESSON)
# A PNG of 1x1 pixel: the smallest image a browser loads.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
    "9c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").is_file():
        if os.environ.get("BAM_SITE"):
            pytest.fail(f"BAM_SITE={SITE} holds no built site (index.html)")
        pytest.skip(f"no site in {SITE}: build it with make site")
    return browser_site.check_site(SITE, SLUG)


def test_every_page_of_the_built_site_works_for_a_reader(site):
    lessons = [name for name in site if browser_site.LESSON_PAGE.search(name)]
    assert len(lessons) >= 9, f"expected a page per lesson, found {lessons}"
    assert {"index.html", "api.html", "docs/instructors.html"} <= set(site)


def test_the_reference_documents_every_public_name_of_bam(site):
    import bam

    ids = set(site["api.html"]["ids"])
    missing = [n for n in bam.__all__ if not any(i.endswith(f".{n}") for i in ids)]
    assert not missing, f"the reference page does not document {missing}"


def test_screenshots_of_the_home_page_and_lesson_07_are_taken(site):
    lesson = site[f"notebooks/{LESSON}.html"]
    for shot in (
        site["index.html"]["screenshot"],
        lesson["screenshot"],
        lesson["explorer_screenshot"],
    ):
        assert Path(shot).stat().st_size > 20_000, shot


def test_the_lesson_07_page_shows_a_static_explorer(site):
    facts = site[f"notebooks/{LESSON}.html"]
    assert "Jupyter or Colab" in facts["outputText"]
    assert not browser_site.RAW_WIDGET.search(facts["outputText"])


def test_every_figure_says_what_it_shows(site):
    bare = [
        f"{page}: {img['src'].rsplit('/', 1)[-1]}"
        for page, facts in site.items()
        for img in facts["images"]
        if img["output"] and not img["caption"] and (not img["alt"] or "/" in img["alt"])
    ]
    assert not bare, f"{len(bare)} figures without a caption or alt text: {bare[:5]}"


FOLDED = "What must not change?"


def _page(body: str, title: str = "page") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def _lesson_body(extra: str = "", colab: str = COLAB, student: str = f"{LESSON}.ipynb") -> str:
    return (
        f'<a href="{colab}">Open in Colab</a>'
        f'<a class="download" href="../_downloads/x/{student}" download>student copy</a>'
        '<div class="cell_output"><p>The live explorer runs in Jupyter or Colab.</p>'
        f'<img src="../_images/ok.png" alt="a figure"></div>'
        f"<details><summary>Hint 1</summary><p>{FOLDED}</p></details>{extra}"
    )


@pytest.fixture
def tiny_site(tmp_path):
    """A two-page site that passes every check; each test below breaks one thing."""
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "ok.png").write_bytes(PIXEL)
    (tmp_path / "_downloads" / "x").mkdir(parents=True)
    (tmp_path / "_downloads" / "x" / f"{LESSON}.ipynb").write_text("{}")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "index.html").write_text(
        _page(f'<a href="notebooks/{LESSON}.html#seeing">lesson 07</a>')
    )

    def write(lesson_body: str = _lesson_body()) -> Path:
        (tmp_path / "notebooks" / f"{LESSON}.html").write_text(
            _page(f'<section id="seeing">{lesson_body}</section>')
        )
        return tmp_path

    return write


def check(folder: Path) -> dict:
    return browser_site.check_site(folder, SLUG, screenshots=False)


def test_a_site_that_works_passes(tiny_site):
    assert set(check(tiny_site())) == {"index.html", f"notebooks/{LESSON}.html"}


def test_a_missing_image_fails(tiny_site):
    with pytest.raises(browser_site.SiteCheckFailed, match="missing.png did not load"):
        check(tiny_site(_lesson_body('<img src="../_images/missing.png" alt="x">')))


def test_a_traceback_in_an_output_fails(tiny_site):
    error = '<div class="cell_output"><pre>Traceback (most recent call last):</pre></div>'
    with pytest.raises(browser_site.SiteCheckFailed, match="shows 'Traceback'"):
        check(tiny_site(_lesson_body(error)))


def test_raw_widget_text_fails(tiny_site):
    raw = '<div class="cell_output"><pre>VBox(children=(IntSlider(value=0),))</pre></div>'
    with pytest.raises(browser_site.SiteCheckFailed, match="raw widget output"):
        check(tiny_site(_lesson_body(raw)))


def test_a_broken_internal_link_or_anchor_fails(tiny_site):
    links = '<a href="../api.html">reference</a><a href="#nowhere">here</a>'
    with pytest.raises(browser_site.SiteCheckFailed) as failed:
        check(tiny_site(_lesson_body(links)))
    assert "link to api.html is broken (HTTP 404)" in str(failed.value)
    assert "#nowhere: no such anchor" in str(failed.value)


def test_a_colab_link_to_another_notebook_fails(tiny_site):
    wrong = COLAB.replace(LESSON, "06_training")
    with pytest.raises(browser_site.SiteCheckFailed, match="no Open in Colab link"):
        check(tiny_site(_lesson_body(colab=wrong)))


def test_a_lesson_without_its_student_copy_fails(tiny_site):
    with pytest.raises(browser_site.SiteCheckFailed, match="no download link to the student"):
        check(tiny_site(_lesson_body(student="06_training.ipynb")))


def test_a_page_that_loads_files_from_elsewhere_fails(tiny_site):
    badge = '<img src="https://colab.research.google.com/assets/colab-badge.svg" alt="badge">'
    with pytest.raises(browser_site.SiteCheckFailed, match="outside the site"):
        check(tiny_site(_lesson_body(badge)))


def test_a_hint_shown_unfolded_fails(tiny_site):
    body = _lesson_body().replace("<details>", "<details open>")
    with pytest.raises(browser_site.SiteCheckFailed, match="'Hint 1' is shown unfolded"):
        check(tiny_site(body))


def test_a_hint_whose_fold_a_style_undoes_fails(tiny_site):
    style = "<style>details::details-content { content-visibility: visible; }</style>"
    body = _lesson_body().replace("<details>", f"{style}<details>")
    with pytest.raises(browser_site.SiteCheckFailed, match="shown unfolded"):
        check(tiny_site(body))


def test_a_lesson_whose_hints_lost_their_html_fails(tiny_site):
    body = _lesson_body().replace("<details>", "&lt;details&gt;").replace("</details>", "")
    body = body.replace("<summary>Hint 1</summary>", "Hint 1")
    with pytest.raises(browser_site.SiteCheckFailed, match="no folded hint or answer"):
        check(tiny_site(body))


def test_lesson_07_without_its_static_explorer_fails(tiny_site):
    body = _lesson_body().replace("The live explorer runs in Jupyter or Colab.", "")
    with pytest.raises(browser_site.SiteCheckFailed, match="explorer's note"):
        check(tiny_site(body))
