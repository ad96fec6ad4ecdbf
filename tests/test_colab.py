"""Lessons 00 (the set-up) and 07 (shipped networks, widgets) run as in Colab: each opened
alone in an empty folder of a fresh runtime whose kernel has imported ``google.colab``, where
torch and torchvision come preinstalled and the lesson's own install cell installs the course,
from a git URL.

The runtime is a new virtual environment that sees this environment's packages (torch,
torchvision, Jupyter, ...) as preinstalled, through a path file, with the course package left
out; the install cell's URL is pointed at a local clone of this repository's last commit. The
tests check that the install kept the preinstalled torch and torchvision and that nothing the
lesson imported came from a checkout. Needs git and PyPI (pip builds the package with
setuptools in an isolated environment, as Colab does)."""

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import torch
import torchvision

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration  # a fresh runtime and a pip install: make test-integration
LESSONS = ["00_welcome.ipynb", "07_seeing_attention.ipynb"]
COURSE_URL = "git+https://github.com/bam-course/bam-course"
REPORT = textwrap.dedent(
    """
    import json, os, sys
    import bam, torch, torchvision
    files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    print("REPORT " + json.dumps({
        "colab": "google.colab" in sys.modules,
        "torch": [torch.__version__, torch.__file__],
        "torchvision": [torchvision.__version__, torchvision.__file__],
        "bam": bam.__file__,
        "files": sorted(f for f in files if f),
    }))
    """
)
DRIVER = textwrap.dedent(
    """
    import sys
    import nbformat
    from nbclient import NotebookClient

    lesson, report, folder = sys.argv[1:]
    nb = nbformat.read(lesson, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(open(report).read()))
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": folder}}).execute()
    nbformat.write(nb, lesson)
    """
)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A git repository holding this checkout's last commit, for pip to clone as Colab would."""
    path = tmp_path_factory.mktemp("github") / "bam-course"
    for args in (
        ["init", "-q", "-b", "main", str(path)],
        ["-C", str(path), "fetch", "-q", str(ROOT), "HEAD"],
        ["-C", str(path), "reset", "-q", "--hard", "FETCH_HEAD"],
    ):
        subprocess.run(["git", *args], check=True)
    return path


def make_runtime(base: Path) -> dict[str, str]:
    """A fresh runtime in ``base``: its Python, its kernel and the environment to run it in."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Preinstalled: every package of this environment but the course itself.
    preinstalled = base / "preinstalled"
    preinstalled.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("bam", "__editable__")) and entry.suffix != ".pth":
            (preinstalled / entry.name).symlink_to(entry)
    (site / "preinstalled.pth").write_text(f"{preinstalled}\n")
    colab = site / "google" / "colab"  # a namespace package "google", as Colab's
    colab.mkdir(parents=True)
    (colab / "__init__.py").write_text(
        '"""Stands in for Colab\'s module: only its presence counts."""\n'
    )
    startup = base / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab\n")  # as Colab's kernel does
    kernel = base / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3",
        "language": "python",
    }
    (kernel / "kernel.json").write_text(json.dumps(spec))
    # A safety net, not a change of behaviour: if the install wanted another torch, pip fails
    # at once instead of downloading gigabytes; the assertions below then fail too.
    constraints = base / "constraints.txt"
    pins = [f"{name}=={metadata.version(name)}" for name in ("torch", "torchvision")]
    constraints.write_text("\n".join(pins) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER", "BAM_"))}
    env.update(
        BAM_FAST="1",
        IPYTHONDIR=str(base / "ipython"),
        JUPYTER_PATH=str(base / "jupyter"),
        JUPYTER_DATA_DIR=str(base / "jupyter-data"),
        PIP_CONSTRAINT=str(constraints),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    return {"python": str(python), "site": str(site), "env": env}


@pytest.mark.parametrize("name", LESSONS)
def test_the_lesson_runs_in_a_simulated_colab_runtime(tmp_path, clone, name):
    runtime = make_runtime(tmp_path)
    content = tmp_path / "content"  # Colab's working folder: the lesson alone in it
    content.mkdir()
    lesson = content / name
    source = (ROOT / "notebooks" / name).read_text()
    assert COURSE_URL in source, "the install cell no longer installs from the course's URL"
    # pip 23 rejects "name @ git+file:///path" (no host); "file://localhost/path" is the same.
    lesson.write_text(source.replace(COURSE_URL, f"git+file://localhost{clone}"))
    (tmp_path / "report.py").write_text(REPORT)
    (tmp_path / "driver.py").write_text(DRIVER)
    run = subprocess.run(
        [
            runtime["python"],
            str(tmp_path / "driver.py"),
            str(lesson),
            str(tmp_path / "report.py"),
            str(content),
        ],
        cwd=content,
        env=runtime["env"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    printed = "".join(o.get("text", "") for o in nbformat.read(lesson, 4).cells[-1].outputs)
    (line,) = [line for line in printed.splitlines() if line.startswith("REPORT ")]
    report = json.loads(line.removeprefix("REPORT "))
    assert report["colab"]
    for module, (version, file) in (("torch", report["torch"]), ("tv", report["torchvision"])):
        expected = torch if module == "torch" else torchvision
        assert version == expected.__version__, f"the install cell replaced {module}"
        assert Path(file).resolve() == Path(expected.__file__).resolve()
    assert Path(report["bam"]).parent.parent == Path(runtime["site"])  # installed by the cell
    preinstalled = Path(sysconfig.get_paths()["purelib"]).resolve()  # in ROOT/.venv in CI
    # Relative names are not files (torch.ops and torch.classes are named "_ops.py", ...).
    files = [Path(f).resolve() for f in report["files"] if Path(f).is_absolute()]
    files = [f for f in files if not f.is_relative_to(preinstalled)]
    from_checkout = [f for f in files if f.is_relative_to(ROOT)]
    from_clone = [f for f in files if f.is_relative_to(clone)]
    assert not from_checkout and not from_clone, from_checkout + from_clone
