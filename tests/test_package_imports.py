"""The installed package needs only its declared dependencies: the notebook tooling is in tools/."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bam

ROOT = Path(__file__).resolve().parents[1]
# Needed by the course tooling (tools/course, the `dev` extra), never by the package.
TOOLING_ONLY = ("nbformat", "nbclient")

# One fresh interpreter answers every question about what imports what, in this order (a
# module, once imported, stays imported): each answer is a line "NAME VALUE".
IMPORT_EVERY_MODULE = f"""
import importlib, json, pkgutil, sys

for name in {TOOLING_ONLY!r}:
    sys.modules[name] = None  # from now on, `import {TOOLING_ONLY[0]}` raises ImportError
try:
    import {TOOLING_ONLY[0]}
except ImportError:
    pass
else:
    raise SystemExit("blocking the import did not work")


def loaded(prefix):
    return sorted(m for m in sys.modules if m == prefix or m.startswith(prefix + "."))


# Measuring localisation needs neither the drawing code nor the checks.
import bam.localisation
print("localisation_draws", json.dumps(loaded("bam.viz") + loaded("matplotlib")))
print("localisation_checks", json.dumps(loaded("bam.checks")))

# Shapes, training, checks and maps never need torchvision: each of its imports costs a second.
import bam.checks, bam.cli, bam.data, bam.pretrained, bam.train, bam.viz
print("common_torchvision", json.dumps(loaded("torchvision")))


def fail(name):
    raise


names = [m.name for m in pkgutil.walk_packages(bam.__path__, "bam.", onerror=fail)]
for name in names:
    importlib.import_module(name)
print("modules", len(names))
"""


@pytest.fixture(scope="module")
def imported() -> dict[str, object]:
    """What IMPORT_EVERY_MODULE found, in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (line.split(" ", 1) for line in result.stdout.splitlines())
    return {name: json.loads(value) for name, value in lines}


def test_every_bam_module_imports_without_the_notebook_tooling(imported):
    assert imported["modules"] > 20  # the walk found the package's modules


def test_the_common_modules_do_not_import_torchvision(imported):
    assert imported["common_torchvision"] == [], "import torchvision where it is used, lazily"


def test_measuring_localisation_imports_neither_the_drawing_code_nor_the_checks(imported):
    assert imported["localisation_draws"] == []
    assert imported["localisation_checks"] == []


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the modules a file imports anywhere (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_no_bam_module_imports_the_notebook_tooling_even_lazily():
    package = Path(bam.__file__).parent
    offenders = {}
    for path in sorted(package.rglob("*.py")):
        if found := imported_modules(path) & set(TOOLING_ONLY):
            offenders[path.relative_to(package.parent).as_posix()] = sorted(found)
    assert offenders == {}, "the notebook tooling belongs in tools/course"


def test_every_module_of_bam_is_short_and_says_what_it_is_for():
    for path in sorted((ROOT / "bam").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400, f"{name}: over 400 lines, split it along a seam"
        assert ast.get_docstring(ast.parse(text)), f"{name}: no docstring saying its one job"
