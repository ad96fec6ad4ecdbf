"""Build the rendered course: every lesson executed and shown with its outputs (``make site``).

    python -m tools.build_site           # a full CPU run of every lesson -> build/site/
    python -m tools.build_site --fast    # lessons in fast mode (BAM_FAST=1) -> build/site-fast/
    python -m tools.build_site --rerun   # forget every cached execution first

The site's own pages and its Sphinx configuration are in ``docs/site/``. A build (1) mirrors
what the site shows into ``build/site-work/<mode>/src`` with the repository's layout (so every
relative link of the README, the guide and the lessons resolves as it does in the repository),
rewriting only the files whose contents changed, then (2) runs Sphinx, whose MyST-NB executes
the lessons through jupyter-cache: a lesson is executed again only when its code cells changed,
and every lesson when the ``bam`` package (code or shipped results) changed. Lessons run with
an empty runs folder (``BAM_RUNS``: the page shows what a learner's first run prints) and
``BAM_STATIC=1``, which turns widgets into figures (``bam.runtime.static_page``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from bam import cli
from bam.errors import BamError
from tools.course.layout import REPO_ROOT, lessons, student_path
from tools.course.repo import colab_link, repository

SITE_PAGES = REPO_ROOT / "docs" / "site"
WORK = REPO_ROOT / "build" / "site-work"
OUT = {"full": REPO_ROOT / "build" / "site", "fast": REPO_ROOT / "build" / "site-fast"}
# Docs pages shown beside the lessons (docs/site/ holds the site's own pages).
GUIDES = ("instructors.md", "authoring.md")
# The lessons' Colab badge, and the copy the site shows so that its pages load nothing from
# elsewhere (they then work offline and from disk).
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "../_static/colab-badge.svg"


def package_digest(root: Path = REPO_ROOT / "bam") -> str:
    """SHA-256 over the ``bam`` package's code and shipped results: what lesson outputs depend
    on besides the lessons themselves."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


def banner(lesson: str, repo: str, fast: bool) -> str:
    """The note at the top of a lesson's page: where its outputs come from, and how to run it."""
    path = f"notebooks/{lesson}"
    how = (
        "in fast mode (`BAM_FAST=1`: tiny data and models, so its numbers and figures are not "
        "the lesson's results)"
        if fast
        else "in full on a CPU, with the results that ship with the course"
    )
    return (
        "```{note}\n"
        f"This page shows the lesson executed {how}. Run it yourself: "
        f"[Open in Colab]({colab_link(path, repo)}) · "
        f"{{download}}`download the student copy <student/{lesson}>` (exercises blanked out) · "
        f"[the notebook on GitHub]({repo}/blob/main/{path}).\n"
        "```"
    )


def site_lesson(nb: nbformat.NotebookNode, lesson: str, repo: str, fast: bool):
    """The lesson as the site shows it: the banner after the first cell (title, Colab badge),
    the badge's image from the site itself. Only markdown changes, so the code, and the cache
    key of its execution, are kept."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(COLAB_BADGE, LOCAL_BADGE)
    cell = nbformat.v4.new_markdown_cell(banner(lesson, repo, fast), id="site-banner")
    nb.cells.insert(1, cell)
    return nb


def sources(fast: bool) -> dict[str, bytes]:
    """Every file of the site's source tree, by its path there."""
    repo = repository(REPO_ROOT)
    files = {
        path.relative_to(SITE_PAGES).as_posix(): path.read_bytes()
        for path in SITE_PAGES.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    files["README.md"] = (REPO_ROOT / "README.md").read_bytes()
    for name in GUIDES:
        files[f"docs/{name}"] = (REPO_ROOT / "docs" / name).read_bytes()
    for path in (REPO_ROOT / "docs" / "figures").glob("*"):
        files[f"docs/figures/{path.name}"] = path.read_bytes()
    for path in lessons(REPO_ROOT):
        nb = site_lesson(nbformat.read(path, as_version=4), path.name, repo, fast)
        files[f"notebooks/{path.name}"] = nbformat.writes(nb).encode()
        files[f"notebooks/student/{path.name}"] = student_path(path).read_bytes()
    return files


def mirror(files: dict[str, bytes], target: Path) -> list[str]:
    """Make ``target`` hold exactly ``files``; returns the paths written. Unchanged files are
    left alone, so Sphinx (which compares modification times) reads only what changed."""
    written = []
    for rel, data in files.items():
        path = target / rel
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(rel)
    for path in sorted(target.rglob("*"), reverse=True):
        rel = path.relative_to(target).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return written


def folder_size(folder: Path) -> tuple[int, int]:
    paths = [p for p in folder.rglob("*") if p.is_file()]
    return len(paths), sum(p.stat().st_size for p in paths)


def forget_stale_executions(work: Path, digest: str, rerun: bool = False) -> bool:
    """Clear ``work``'s cached executions if asked to, or if they were made with another
    package than ``digest`` names; then record ``digest`` as what this build executes with.
    Returns whether the cache was cleared."""
    digest_file, cache = work / "bam.sha256", work / "jupyter_cache"
    # A cache without a digest (its build stopped before one was written) cannot be trusted.
    stale = cache.exists() and (not digest_file.is_file() or digest_file.read_text() != digest)
    if rerun or stale:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(work / "doctrees", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    digest_file.write_text(digest)  # before executing: the package this build's runs use
    return rerun or stale


def build(fast: bool, rerun: bool = False, out: Path | None = None) -> Path:
    """Mirror, execute what changed and render; returns the folder holding ``index.html``."""
    mode = "fast" if fast else "full"
    work, out = WORK / mode, out or OUT[mode]
    src, doctrees, cache = work / "src", work / "doctrees", work / "jupyter_cache"
    if forget_stale_executions(work, package_digest(), rerun) and not rerun:
        print("the bam package changed since the last build: every lesson runs again")
    changed = mirror(sources(fast), src)
    shown = ", ".join(changed[:4]) + (", ..." if len(changed) > 4 else "")
    print(f"{len(changed)} source files changed" + (f": {shown}" if changed else ""))
    if "conf.py" in changed:  # Sphinx keeps some settings' effects in its saved environment
        shutil.rmtree(doctrees, ignore_errors=True)
    # Lessons train into a folder of their own, emptied first, so that a page shows what a
    # learner's first run prints (training, not a resumed checkpoint from an earlier run).
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    env = {
        **os.environ,
        "BAM_RUNS": str(runs),
        "BAM_FAST": "1" if fast else "0",
        "BAM_STATIC": "1",
        "BAM_SITE_CACHE": str(cache),
        "OMP_WAIT_POLICY": "PASSIVE",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    start = time.monotonic()
    shutil.rmtree(out, ignore_errors=True)  # no page of an earlier build stays behind
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-d", str(doctrees), "-W"]
    command += ["--keep-going", str(src), str(out)]
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0:
        raise BamError(f"the site did not build (Sphinx exit status {done.returncode})")
    count, size = folder_size(out)
    print(
        f"site built in {time.monotonic() - start:.0f} s: {out / 'index.html'} "
        f"({count} files, {size / 1e6:.1f} MB)"
    )
    return out


PROG = "python -m tools.build_site"


def main(argv: list[str] | None = None) -> None:
    parser = cli.Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="execute the lessons with BAM_FAST=1")
    parser.add_argument("--rerun", action="store_true", help="forget every cached execution")
    parser.add_argument("--out", type=Path, help="where the site goes (default: build/site)")
    args = parser.parse_args(argv)
    try:
        import myst_nb  # noqa: F401
    except ImportError:
        raise BamError(
            "the site needs its tools: pip install -e '.[site]' (make site installs them)"
        ) from None
    build(args.fast, args.rerun, args.out)


if __name__ == "__main__":
    cli.run(main, PROG)
