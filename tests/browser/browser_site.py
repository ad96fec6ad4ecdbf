"""Read the rendered course in headless Chromium, the way a reader does.

    python tests/browser/browser_site.py [SITE]   (default: build/site, made by `make site`)

The folder is served on 127.0.0.1 at a free port; every page reachable from ``index.html`` is
visited. Each page must load every image (natural width > 0) from the site itself (a request
that leaves 127.0.0.1 fails the check: the site must work offline), show no error output and no
raw widget text; every link into the site must resolve (the file, and the ``#anchor`` on a
page). Lesson pages must link Colab at their own notebook and a student copy to download;
lesson 07 must show its static explorer. Screenshots of the home page and of lesson 07 go to
``tests/browser/artifacts/site-*.png``.
"""

from __future__ import annotations

import re
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

from browser_lab import ARTIFACTS, ROOT, chromium

DEFAULT_SITE = ROOT / "build" / "site"
LESSON_PAGE = re.compile(r"notebooks/(\d\d_\w+)\.html$")
EXPLORER_LESSON = "07_seeing_attention"
EXPLORER_NOTE = "Jupyter or Colab"  # what bam.viz.explorer says on a static page
COLAB = "https://colab.research.google.com/github/{slug}/blob/main/notebooks/{lesson}.ipynb"
# Error outputs of a cell, and what a widget shows as text when no kernel draws it.
ERROR_TEXT = ("Traceback", "NotImplementedError")
RAW_WIDGET = re.compile(r"\b(?:VBox|HBox|IntSlider|ToggleButtons|Dropdown|Output)\(\w+=")
PAGE_S = 30

# Everything the checks read from a page, once its images have loaded (or failed).
PAGE_JS = """async () => {
  const images = [...document.images];
  images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(images.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener('load', done);
    i.addEventListener('error', done);
  })));
  const outputs = [...document.querySelectorAll('.cell_output')];
  return {
    images: images.map(i => ({
      src: i.currentSrc || i.src, width: i.naturalWidth, alt: i.getAttribute('alt') || '',
      caption: (i.closest('figure')?.querySelector('figcaption')?.innerText || '').trim(),
      output: !!i.closest('.cell_output'),
    })),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    downloads: [...document.querySelectorAll('a.download, a[download]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    outputText: outputs.map(o => o.innerText).join('\\n'),
    errorOutputs: document.querySelectorAll(
      '.cell_output .traceback, .cell_output .output.error').length,
    widgetScripts: document.querySelectorAll(
      'script[type^="application/vnd.jupyter.widget"]').length,
    // Hints and answers: folded means closed, and nothing but the summary takes up space.
    folds: [...document.querySelectorAll('details')].map(d => ({
      summary: (d.querySelector('summary')?.innerText || '').trim(),
      open: d.open,
      shown: [...d.children].some(c => c.tagName !== 'SUMMARY' && c.checkVisibility()),
    })),
  };
}"""


class SiteCheckFailed(AssertionError):
    """The built site has a page, image or link that does not work for a reader."""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test's output readable
        pass


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1; yields the base URL (ending in ``/``)."""
    handler = partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _page_problems(page: str, facts: dict) -> list[str]:
    """What is wrong on one visited page, in a reader's terms."""
    problems = [
        f"{page}: image {img['src']} did not load" for img in facts["images"] if img["width"] == 0
    ]
    for text in ERROR_TEXT:
        if text in facts["outputText"]:
            line = next(ln for ln in facts["outputText"].splitlines() if text in ln)
            problems.append(f"{page}: a cell output shows {text!r}: {line.strip()[:120]!r}")
    if facts["errorOutputs"]:
        problems.append(f"{page}: {facts['errorOutputs']} error output(s)")
    match = RAW_WIDGET.search(facts["outputText"])
    if match or facts["widgetScripts"]:
        problems.append(f"{page}: raw widget output ({match.group(0) if match else 'a script'})")
    return problems


def _lesson_problems(page: str, facts: dict, slug: str) -> list[str]:
    lesson = LESSON_PAGE.search(page).group(1)
    problems = []
    colab = COLAB.format(slug=slug, lesson=lesson)
    if colab not in facts["links"]:
        problems.append(f"{page}: no Open in Colab link to {colab}")
    student = [d for d in facts["downloads"] if d.endswith(f"/{lesson}.ipynb")]
    if not student:
        problems.append(f"{page}: no download link to the student copy {lesson}.ipynb")
    if not facts["folds"]:
        problems.append(f"{page}: no folded hint or answer (raw HTML dropped or escaped?)")
    problems += [
        f"{page}: '{fold['summary']}' is shown unfolded"
        for fold in facts["folds"]
        if fold["open"] or fold["shown"]
    ]
    if lesson == EXPLORER_LESSON:
        if EXPLORER_NOTE not in facts["outputText"]:
            problems.append(f"{page}: the explorer's note (runs in Jupyter or Colab) is missing")
        grid = [i for i in facts["images"] if i["output"] and i["width"] > 0]
        if not grid:
            problems.append(f"{page}: no figures at all, so no static explorer")
    return problems


def check_site(site: Path, slug: str, screenshots: bool = True) -> dict:
    """Visit every page of ``site``; returns what was seen, or raises ``SiteCheckFailed``.

    ``slug`` is the repository's ``OWNER/NAME`` that Colab links must name.
    """
    if not (site / "index.html").is_file():
        raise SiteCheckFailed(f"{site} has no index.html: build the site first (make site)")
    seen: dict[str, dict] = {}
    problems: list[str] = []
    external: set[str] = set()
    with serve(site) as base, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def only_local(route) -> None:
            if route.request.url.startswith(base):
                route.continue_()
            else:
                external.add(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        queue = [(base + "index.html", "the start")]
        while queue:
            url, referrer = queue.pop(0)
            name = url.removeprefix(base)
            if name in seen:
                continue
            response = page.goto(url, wait_until="load", timeout=PAGE_S * 1000)
            if response is None or response.status != 200:
                status = response.status if response else "no answer"
                problems.append(f"{referrer}: link to {name} is broken (HTTP {status})")
                seen[name] = {"links": [], "ids": [], "images": []}
                continue
            facts = page.evaluate(PAGE_JS)
            seen[name] = facts
            problems += _page_problems(name, facts)
            if LESSON_PAGE.search(name):
                problems += _lesson_problems(name, facts, slug)
            if screenshots and name in ("index.html", f"notebooks/{EXPLORER_LESSON}.html"):
                ARTIFACTS.mkdir(exist_ok=True)
                shot = ARTIFACTS / f"site-{Path(name).stem}.png"
                page.screenshot(path=str(shot), full_page=name == "index.html")
                facts["screenshot"] = str(shot)
                if name != "index.html":  # and the static explorer, where the widgets would be
                    page.get_by_text(EXPLORER_NOTE).first.scroll_into_view_if_needed()
                    shot = ARTIFACTS / "site-explorer.png"
                    page.screenshot(path=str(shot))
                    facts["explorer_screenshot"] = str(shot)
            for link in facts["links"]:
                target, _ = urldefrag(link)
                if target.startswith(base) and target.endswith(".html"):
                    queue.append((target, name))
        context.close()
        problems += _link_problems(seen, base)
    if external:
        problems.append(f"pages requested files from outside the site: {sorted(external)[:5]}")
    if problems:
        raise SiteCheckFailed(f"{len(problems)} problem(s):\n" + "\n".join(problems))
    return seen


def _link_problems(seen: dict[str, dict], base: str) -> list[str]:
    """Every link into the site resolves: its file exists, and so does its ``#anchor``."""
    problems, checked = [], {}
    for name, facts in seen.items():
        for link in facts["links"]:
            target, fragment = urldefrag(link)
            if not target.startswith(base):
                continue
            rel = unquote(urlparse(target).path).lstrip("/")
            if rel.endswith("/") or not rel:
                rel += "index.html"
            if rel not in seen and rel not in checked:
                checked[rel] = _status(base + rel)
            if rel not in seen and checked[rel] != 200:
                problems.append(f"{name}: link to {rel} is broken (HTTP {checked[rel]})")
            elif fragment and rel in seen and unquote(fragment) not in seen[rel]["ids"]:
                problems.append(f"{name}: link to {rel}#{fragment}: no such anchor")
    return problems


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from tools.course.repo import repository

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SITE
    pages = check_site(folder, repository().removeprefix("https://github.com/"))
    print(f"{len(pages)} pages checked: every image loads, every internal link resolves")
