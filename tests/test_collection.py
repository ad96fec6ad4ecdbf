"""Every process collects the same tests under the same ids: pytest-xdist's workers each
collect the suite and refuse to start when their lists differ (an id built from an object's
repr, its address, or bytes that change between processes, or a set's hash order)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def collected_ids(hash_seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "BAM_FAST": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.integration
def test_two_fresh_interpreters_collect_the_same_test_ids():
    first, second = collected_ids("1"), collected_ids("2")
    assert len(first) > 500
    if first != second:
        pairs = zip(first + [""] * len(second), second + [""] * len(first), strict=False)
        a, b = next((a, b) for a, b in pairs if a != b)
        pytest.fail(f"{len(first)} and {len(second)} ids; the first that differ: {a!r} / {b!r}")
