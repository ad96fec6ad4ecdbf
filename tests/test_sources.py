"""The lessons name their sources: every lesson links the BAM paper, every link in a lesson's
prose is a well-formed address, and lesson 04 says, for each of its bugs, where public code has
it (from ``bam.checks.bug_sources``, the one place those sources are kept)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from bam.checks.bug_catalog import BUGS
from bam.checks.bug_sources import SOURCES, sources_markdown
from tools.course.layout import lessons

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAPER = "https://arxiv.org/abs/1807.06514"
# Every lesson links the paper.
LINKING_THE_PAPER = [
    "00_welcome",
    "01_channel_attention",
    "02_spatial_attention",
    "03_bam_module",
    "04_bug_hunt",
    "05_bam_resnet",
    "06_training",
    "07_seeing_attention",
    "08_ablations",
]
# Where a lesson's prose may point: papers, public code, and the course's own Colab badge.
HOSTS = {"arxiv.org", "github.com", "colab.research.google.com"}
URL = re.compile(r"https?://[^\s)\]>\"'`]+")
# A markdown link's target runs from "](" to the next ")": it must hold one address, no spaces.
LINK_TARGET = re.compile(r"\]\(([^)]*)\)")


def markdown(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def problem_with(url: str) -> str | None:
    """Why ``url`` is not a well-formed address for a lesson to link, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "not https"
    if parts.hostname not in HOSTS:
        return f"host {parts.hostname!r} is not one of {sorted(HOSTS)}"
    if any(ch.isspace() for ch in url):
        return "contains a space"
    if parts.hostname == "arxiv.org" and not re.fullmatch(r"/abs/\d{4}\.\d{4,5}", parts.path):
        return "an arXiv link is https://arxiv.org/abs/NNNN.NNNNN"
    if parts.hostname == "github.com" and not re.fullmatch(
        r"/[\w.-]+/[\w.-]+(/(issues|pull)/\d+|/blob/[\w.-]+/[^#?]+)?", parts.path
    ):
        return "a GitHub link is to OWNER/REPO, its /issues/N or /pull/N, or /blob/REF/PATH"
    return None


# The lessons that compare BAM with SE and CBAM link their papers too.
PEERS = {"SE": "https://arxiv.org/abs/1709.01507", "CBAM": "https://arxiv.org/abs/1807.06521"}
COMPARING = ["00_welcome", "01_channel_attention", "08_ablations"]


@pytest.mark.parametrize("name", COMPARING)
def test_a_lesson_that_compares_with_se_and_cbam_links_their_papers(name):
    for peer, url in PEERS.items():
        assert f"]({url})" in markdown(name), f"{name} does not link the {peer} paper, {url}"


def test_the_list_of_lessons_that_link_the_paper_names_real_lessons():
    names = {path.stem for path in lessons()}
    assert set(LINKING_THE_PAPER) <= names


@pytest.mark.parametrize("name", LINKING_THE_PAPER)
def test_the_lesson_links_the_paper(name):
    assert f"]({PAPER})" in markdown(name), f"{name} does not link the paper, {PAPER}"


@pytest.mark.parametrize("name", [path.stem for path in lessons()])
def test_every_link_in_the_lesson_prose_is_well_formed(name):
    text = markdown(name)
    bad = [f"{url}: {why}" for url in URL.findall(text) if (why := problem_with(url))]
    bad += [f"link target {target!r}" for target in LINK_TARGET.findall(text) if " " in target]
    assert not bad, f"{name}: " + "; ".join(bad)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://arxiv.org/abs/1807.06514", "not https"),
        ("https://example.com/bam.py", "is not one of"),
        ("https://arxiv.org/pdf/1807.06514", "an arXiv link"),
        ("https://github.com/owner/repo/tree/main", "a GitHub link"),
        ("https://github.com/owner/repo/blob/main/a b.py", "contains a space"),
    ],
)
def test_a_malformed_address_is_refused(url, why):
    assert why in problem_with(url)


@pytest.mark.parametrize(
    "url",
    [
        PAPER,
        "https://github.com/Jongchan/attention-module",
        "https://github.com/Jongchan/attention-module/issues/50",
        "https://github.com/owner/repo/blob/0123abc/MODELS/bam.py#L24",
    ],
)
def test_a_well_formed_address_is_accepted(url):
    assert problem_with(url) is None


def test_the_sources_cover_the_bugs_of_the_catalogue_and_no_other():
    assert sorted(SOURCES) == sorted(BUGS)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_every_bug_has_a_source_or_says_none_was_found(bug):
    sources = SOURCES.get(bug)
    assert sources is not None, f"bug {bug} has no entry in bam.checks.bug_sources.SOURCES"
    assert sources.found or "no public instance" in sources.not_found, (
        f"bug {bug} names no source and does not say that none was found"
    )
    for source in sources.found:
        assert source.label.strip(), f"bug {bug}: a source without a label"
        assert problem_with(source.url) is None, f"bug {bug}: {source.url}"
        assert "github.com" not in source.url or re.search(r"/(blob|issues|pull)/", source.url), (
            f"bug {bug}: {source.url} points at a repository, not at a file or an issue"
        )


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_lesson_04_shows_each_bugs_sources_in_its_section(bug):
    nb = nbformat.read(NOTEBOOKS / "04_bug_hunt.ipynb", as_version=4)
    sections = [
        cell.source
        for cell in nb.cells
        if cell.cell_type == "markdown" and cell.source.startswith(f"## Bug {bug}:")
    ]
    assert len(sections) == 1, f"lesson 04 has {len(sections)} sections for bug {bug}"
    assert sources_markdown(bug) in sections[0], (
        f"lesson 04's bug {bug} does not show its sources as the catalogue renders them:\n"
        f"{sources_markdown(bug)}"
    )


def test_lesson_04_points_at_nothing_a_learner_cannot_see():
    assert "catalog" not in markdown("04_bug_hunt").lower()
