"""Where lesson 04's bugs occur in public code: for each bug of ``bam.checks.bug_catalog``, the
files and lines that have it, pinned at the commit that was read, and the issues where users
reported it; or, where we found none, a sentence that says so.

``sources_markdown(n)`` is the line of lesson 04 that names bug ``n``'s sources; a test keeps the
lesson, this module and the catalogue in step. A source is added here only once its file or issue
has been read: the label says what it shows, the address goes straight to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One place a bug occurs: a file at a commit (with its lines), or an issue."""

    label: str  # the link's text: repository, file and lines, or issue number and title
    url: str  # https://github.com/OWNER/REPO/blob/COMMIT/PATH#Ln, or .../issues/N


@dataclass(frozen=True)
class BugSources:
    found: tuple[Source, ...]  # where public code has the bug, and where users reported it
    not_found: str = ""  # what of the bug we looked for in public code and did not find


# The files, pinned at the commit that was read: line numbers hold at that commit.
_RELEASED = (
    "https://github.com/Jongchan/attention-module/blob/"
    "459efad0e05ee7dde50c41ca10a3d0800bc3792a/MODELS/bam.py"
)
_RELEASED_ISSUES = "https://github.com/Jongchan/attention-module/issues/"
_EXTERNAL = (
    "https://github.com/xmu-xiaoma666/External-Attention-pytorch/blob/"
    "d75848e40233ed56fa503c888472bab8b17c568c/model/attention/BAM.py"
)
_CVPYTORCH = (
    "https://github.com/shanglianlm0525/CvPytorch/blob/"
    "9bd3cf68ba73f34a0f5c2fe3cc938b5a2ecf5624/src/models/modules/attentions.py"
)


def _released(lines: str, anchor: str) -> Source:
    """Lines of the authors' released code (Jongchan/attention-module, ``MODELS/bam.py``)."""
    return Source(f"the authors' code, `MODELS/bam.py` {lines}", f"{_RELEASED}#{anchor}")


def _released_issue(number: int, title: str) -> Source:
    return Source(f'its issue #{number}, "{title}"', f"{_RELEASED_ISSUES}{number}")


SOURCES: dict[int, BugSources] = {
    1: BugSources(
        (
            Source(
                "shanglianlm0525/CvPytorch, `src/models/modules/attentions.py`, "
                "`SpatialAttention.forward`, lines 313-317",
                f"{_CVPYTORCH}#L313-L317",
            ),
        )
    ),
    2: BugSources(
        (
            Source(
                "shanglianlm0525/CvPytorch, `src/models/modules/attentions.py`, line 316",
                f"{_CVPYTORCH}#L316",
            ),
            Source("its example, `BAM(16)`, line 1023", f"{_CVPYTORCH}#L1023"),
        )
    ),
    3: BugSources(
        (
            _released("line 48", "L48"),
            _released_issue(1, "Element-wise summation"),
            _released_issue(39, "Combining two attention branches"),
            _released_issue(52, "Issue in combine two channel step in BAM"),
        )
    ),
    4: BugSources(
        (
            _released("line 24", "L24"),
            _released_issue(50, "Bug in BAM: only support input height = width"),
        )
    ),
    5: BugSources((_released("lines 16 and 31", "L16"),)),
    6: BugSources(
        (
            _released("line 20", "L20"),
            _released_issue(5, "Can not run in batch size 1"),
        )
    ),
    7: BugSources(
        (
            _released("lines 22 and 39", "L22"),
            _released_issue(49, "Question: Position of BN in BAM."),
        )
    ),
    8: BugSources(
        (
            Source(
                "xmu-xiaoma666/External-Attention-pytorch, `model/attention/BAM.py`, line 42",
                f"{_EXTERNAL}#L42",
            ),
            Source(
                'its issue #38, "padding value should be same with dilation value"',
                "https://github.com/xmu-xiaoma666/External-Attention-pytorch/issues/38",
            ),
        )
    ),
    9: BugSources(
        (_released("lines 25, 41 and 48", "L25"),),
        not_found="Expanded maps made real (`.contiguous()`, `.repeat()`): "
        "we found no public instance to point to.",
    ),
}


def sources_markdown(number: int) -> str:
    """The line of lesson 04 that says where bug ``number`` occurs in public code."""
    sources = SOURCES[number]
    line = "; ".join(f"[{source.label}]({source.url})" for source in sources.found)
    line = f"**Sources:** {line}." if line else ""
    return f"{line} {sources.not_found}".strip()
