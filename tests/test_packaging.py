"""The project's set-up files agree with each other."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def environment_pip_requirements():
    text = (ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1]
    return [m.group(1).strip() for m in re.finditer(r"^\s+-\s+(\S.*)$", pip_block, re.M)]


def test_environment_yml_lists_the_same_requirements_as_pyproject():
    project = pyproject()["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    assert sorted(environment_pip_requirements()) == sorted(declared)


def test_environment_yml_python_matches_requires_python():
    requires = pyproject()["project"]["requires-python"]
    assert f"python{requires}" in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command_and_the_integration_tests():
    steps = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "make test" in steps and "make test-integration" in steps
    readme = (ROOT / "README.md").read_text()
    assert "make test " in readme and "make test-integration" in readme


def test_the_integration_tests_are_left_out_of_make_test_and_nowhere_else():
    # make test leaves out exactly what make test-integration runs, and pytest refuses a
    # misspelt marker (which would otherwise put a test in neither).
    makefile = (ROOT / "Makefile").read_text()
    assert '-m "not integration and not after_exercises" tests notebooks' in makefile
    assert "-m integration tests\n" in makefile
    assert "--nbval-lax notebooks/student\n" in makefile  # every student copy, whole
    options = pyproject()["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"]
    for name in ("integration", "after_exercises"):
        assert any(marker.startswith(f"{name}:") for marker in options["markers"])


def test_make_test_lints_and_runs_the_notebooks():
    makefile = (ROOT / "Makefile").read_text()
    assert "ruff check conftest.py bam tests tools notebooks" in makefile
    assert "ruff format --check conftest.py bam tests tools notebooks" in makefile
    assert "BAM_FAST=1" in makefile and "--nbval-lax" in makefile
    # In parallel, a notebook's cells must stay in one worker, in order (they share a kernel).
    assert "--dist loadfile" in makefile


def test_the_torch_pin_satisfies_the_declared_range():
    pins = dict(re.findall(r"(torch|torchvision)==([\d.]+)", (ROOT / "Makefile").read_text()))
    floors = dict(re.findall(r"(torch|torchvision)>=([\d.]+)", str(pyproject())))
    for name, pin in pins.items():
        assert tuple(map(int, pin.split("."))) >= tuple(map(int, floors[name].split(".")))


def test_no_tracked_file_holds_a_merge_conflict_marker():
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    marker = re.compile(r"^(<{7} |>{7} |={7}$)", re.M)
    found = [
        path
        for path in tracked
        if (ROOT / path).is_file()
        and marker.search((ROOT / path).read_text(encoding="utf-8", errors="replace"))
    ]
    assert found == [], f"unresolved merge conflicts in {found}"


def test_the_readme_s_map_of_the_tree_names_every_part_of_the_package_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`((?:bam|tools|tests|docs|notebooks)/[\w./-]*)`", table))
    for path in named:
        assert (ROOT / path).exists(), f"the README names {path}, which does not exist"
    parts = [p for p in (ROOT / "bam").iterdir() if p.name not in ("__init__.py", "__pycache__")]
    parts = [p for p in parts if p.suffix == ".py" or (p / "__init__.py").exists()]
    parts.append(ROOT / "bam" / "results")
    for part in parts:
        shown = f"bam/{part.name}" + ("/" if part.is_dir() else "")
        assert shown in named, f"the README's 'Where things are' does not say what {shown} is"


def test_the_oldest_torch_admitted_is_the_one_tested():
    """pyproject.toml's lower bounds of torch and torchvision are the versions `make
    test-oldest-torch` installs (and CI runs), and the README says so."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = dict(
        re.fullmatch(r"(torch|torchvision)>=([\d.]+)", d).groups()
        for d in project["dependencies"]
        if d.startswith("torch")
    )
    pins = re.search(r"^OLDEST_TORCH_PINS \?= (.*)$", (ROOT / "Makefile").read_text(), re.M)[1]
    tested = dict(pin.split("==") for pin in pins.split())
    for name, low in bounds.items():
        assert tested[name].startswith(low), f"{name}>={low} is claimed, {tested[name]} tested"
    assert "make test-oldest-torch" in (ROOT / ".ci" / "run").read_text()
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"PyTorch {bounds['torch']} or newer" in readme
    assert f"{tested['torch']}, the oldest admitted" in readme
