"""Lesson 04's grading: ``check_bug_test`` runs the test a learner wrote for a bug by mutation.

    check_bug_test(test, bug=N, buggy=M)   passes on right versions, fails on buggy ones

The test must pass on the ``bam`` reference and on right versions written differently (so that
it tests behaviour, not one way of writing the module), and fail on the lesson's buggy module
and on versions of the same bug the lesson never shows (``bam.checks.bug_catalog``).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable

import torch

from bam.checks.bug_catalog import BUGS, _Bug
from bam.checks.matching import one_thread
from bam.checks.speaking import CheckFailed, raise_if_unfinished


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _sentence(text: str) -> str:
    return text if text.endswith(("?", ".")) else text + "."


def _run_test(test: Callable, candidate: Callable) -> Exception | None:
    """The error ``test(candidate)`` raises, or None if it passes; each run starts from seed 0,
    so every candidate meets the same random inputs, and the test's prints are kept quiet."""
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-width layers warn when they are built
        torch.manual_seed(0)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                test(candidate)
        except Exception as err:
            return err
    return None


def check_bug_test(test: Callable, bug: int, buggy: Callable) -> None:
    """Grade ``test`` by mutation: the test the learner wrote for bug ``bug`` of lesson 04.

    ``test(candidate)`` takes what the bug's exercise names (a class to build, or for bug 9 a
    function to call) and fails by raising. It must pass on the ``bam`` reference and on right
    versions written differently (so that it tests behaviour, not one way of writing it), and
    fail on ``buggy``, the lesson's module, and on versions of the same bug that the lesson never
    shows. Prints one line when it does; otherwise raises ``CheckFailed`` saying what it misses.
    """
    if bug not in BUGS:
        raise ValueError(f"bug must be one of {sorted(BUGS)} (the lesson's nine), got {bug!r}")
    if not callable(test):
        raise TypeError(
            "check_bug_test takes your test function itself: check_bug_test(test_x, ...)"
        )
    spec = BUGS[bug]
    with one_thread():
        _grade(test, spec, buggy)
    print(
        f"check_bug_test, bug {bug} ({spec.title}): your test fails on the lesson's "
        f"{getattr(buggy, '__name__', 'module')} and {len(spec.buggy)} other versions of the "
        f"bug, and passes on {spec.reference.what} and {len(spec.right)} right versions written "
        "differently"
    )


def _grade(test: Callable, spec: _Bug, buggy: Callable) -> None:
    err = _run_test(test, spec.reference.build)
    if err is not None:
        raise_if_unfinished(err)
        if isinstance(err, AssertionError):
            raise CheckFailed(
                f"your test fails on {spec.reference.what}, which is right ({_one_line(err)}): a "
                "test must pass on correct code."
            ) from err
        raise CheckFailed(
            f"your test crashes on {spec.reference.what}, which is right ({_one_line(err)}): a "
            "test that crashes on correct code is wrong; fix the test."
        ) from err
    if _run_test(test, buggy) is None:
        raise CheckFailed(
            f"your test passes on the lesson's {getattr(buggy, '__name__', 'buggy module')}, "
            f"the bug it is written for: {_sentence(spec.lesson_misses)}"
        )
    for right in spec.right:
        err = _run_test(test, right.build)
        if err is not None:
            raise CheckFailed(
                f"your test fails on a right {spec.noun} written differently ({right.what}; "
                f"{_one_line(err)}): it pins one way of writing the {spec.noun}. Test what "
                f"every correct {spec.noun} does, not how it is built."
            ) from err
    for version in spec.buggy:
        if _run_test(test, version.build) is None:
            raise CheckFailed(f"your test passes on {version.what}: {_sentence(version.misses)}")
