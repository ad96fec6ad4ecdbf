"""tools/build_site.py: what the rendered course is built from, and what makes it rebuild."""

import pkgutil
import re
from pathlib import Path

import nbformat

import bam
from tools import build_site
from tools.course import layout
from tools.course.layout import REPO_ROOT
from tools.course.repo import colab_link

REPO = "https://github.com/me/bam-course"
LESSON = "07_seeing_attention.ipynb"


def lesson() -> nbformat.NotebookNode:
    return nbformat.read(REPO_ROOT / "notebooks" / LESSON, as_version=4)


def test_a_site_lesson_keeps_its_code_so_its_cached_execution_still_matches():
    original = lesson()
    shown = build_site.site_lesson(original, LESSON, REPO, fast=False)
    code = [c.source for c in original.cells if c.cell_type == "code"]
    assert [c.source for c in shown.cells if c.cell_type == "code"] == code
    assert len(shown.cells) == len(original.cells) + 1
    nbformat.validate(shown)


def test_a_site_lesson_links_colab_and_the_student_copy_and_loads_no_outside_image():
    shown = build_site.site_lesson(lesson(), LESSON, REPO, fast=True)
    banner = shown.cells[1].source
    assert colab_link(f"notebooks/{LESSON}", REPO) in banner
    assert f"<student/{LESSON}>" in banner, "a download of the student copy"
    assert "fast mode" in banner, "a fast-mode page says its numbers are not the results"
    markdown = "".join(c.source for c in shown.cells if c.cell_type == "markdown")
    assert build_site.COLAB_BADGE not in markdown
    assert build_site.LOCAL_BADGE in shown.cells[0].source


def test_the_mirror_rewrites_only_what_changed_and_drops_what_is_gone(tmp_path):
    build_site.mirror({"a.md": b"one", "docs/b.md": b"two", "old/c.md": b"three"}, tmp_path)
    before = (tmp_path / "a.md").stat().st_mtime_ns
    written = build_site.mirror({"a.md": b"one", "docs/b.md": b"2"}, tmp_path)
    assert written == ["docs/b.md"]
    assert (tmp_path / "a.md").stat().st_mtime_ns == before, "unchanged: Sphinx skips it"
    assert not (tmp_path / "old").exists()


def test_a_change_to_the_package_changes_its_digest(tmp_path):
    (tmp_path / "layers.py").write_text("x = 1\n")
    first = build_site.package_digest(tmp_path)
    assert build_site.package_digest(tmp_path) == first
    (tmp_path / "layers.py").write_text("x = 2\n")
    assert build_site.package_digest(tmp_path) != first


def test_the_sources_hold_every_lesson_its_student_copy_and_the_guides():
    files = build_site.sources(fast=True)
    lessons = [p.name for p in layout.lessons()]
    assert {f"notebooks/{n}" for n in lessons} <= set(files)
    assert {f"notebooks/student/{n}" for n in lessons} <= set(files)
    assert {"index.md", "api.md", "conf.py", "README.md", "docs/instructors.md"} <= set(files)


def test_the_reference_page_covers_every_module_of_bam():
    page = (build_site.SITE_PAGES / "api.md").read_text()
    documented = set(re.findall(r"^\.\. automodule:: (bam[\w.]*)$", page, re.MULTILINE))
    modules = {f"bam.{m.name}" for m in pkgutil.iter_modules(bam.__path__)}
    assert modules - documented == set(), "add the module to docs/site/api.md"


def test_the_reference_page_documents_only_modules_of_bam():
    # The reference documents the installed package; the course tooling is in tools/.
    page = (build_site.SITE_PAGES / "api.md").read_text()
    documented = set(re.findall(r"^\.\. automodule:: ([\w.]+)$", page, re.MULTILINE))
    modules = {m.name for m in pkgutil.walk_packages(bam.__path__, "bam.")} | {"bam"}
    assert documented - modules == set(), "docs/site/api.md documents a module bam does not have"


def test_the_home_page_includes_a_part_of_the_readme_that_exists():
    readme = (REPO_ROOT / "README.md").read_text()
    index = (build_site.SITE_PAGES / "index.md").read_text()
    for marker in re.findall(r":(?:start-after|end-before): (.+)", index):
        assert marker.strip() in readme, f"README.md lost the marker {marker!r}"
    assert Path(build_site.LOCAL_BADGE).name in {p.name for p in build_site.SITE_PAGES.rglob("*")}


def test_cached_executions_of_another_package_are_forgotten(tmp_path):
    (tmp_path / "bam.sha256").write_text("a")
    cache = tmp_path / "jupyter_cache"
    cache.mkdir()
    assert not build_site.forget_stale_executions(tmp_path, "a"), "same package: keep the cache"
    assert cache.exists()
    assert build_site.forget_stale_executions(tmp_path, "b"), "the package changed"
    assert not cache.exists()
    assert (tmp_path / "bam.sha256").read_text() == "b"


def test_a_cache_left_by_a_build_that_stopped_early_is_not_trusted(tmp_path):
    (tmp_path / "jupyter_cache").mkdir()  # executions, but no record of the package they used
    assert build_site.forget_stale_executions(tmp_path, "a")
    assert (tmp_path / "bam.sha256").read_text() == "a"
