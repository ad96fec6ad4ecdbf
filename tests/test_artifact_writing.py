"""python -m tools.artifacts on a tiny run: every promise of the manifest is recorded, and
bam.pretrained reads back exactly what was written and refuses what was changed."""

import json
import math

import pytest
import torch

import bam.pretrained
from bam.data import load
from bam.errors import BamError
from bam.experiments import append_result, lesson_grid, read_results
from bam.pretrained import sha256
from bam.train import evaluate
from tools import artifacts

TINY = dict(epochs=1, batch_size=32, lr=0.05)
SIZES = (96, 64)
PROVENANCE = {"command", "commit", "dirty", "torch", "threads", "started"}
NET = artifacts.Network("bam_resnet20", 3, ("07",))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny network trained and recorded as make artifacts does, in a folder of its own."""
    work, out = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("out")
    (work / f"{NET.name}.provenance.json").write_text(
        json.dumps(artifacts.provenance("python -m tools.artifacts network x", threads=1))
    )
    artifacts.train_network(NET, work, TINY, SIZES)
    entries = artifacts.record_network(NET, work, out, TINY, SIZES)
    manifest = {"format": 1, "artifacts": entries}
    (out / bam.pretrained.MANIFEST).write_text(json.dumps(manifest))
    return out, entries


def test_a_recorded_network_carries_its_provenance(shipped):
    _, entries = shipped
    entry = entries[NET.name]
    assert PROVENANCE <= entry.keys()
    assert {"recipe", "seed", "call", "sha256", "bytes", "results", "what", "data"} <= entry.keys()
    assert entry["recipe"] == TINY and entry["seed"] == 3 and entry["threads"] == 1
    assert entry["torch"] == torch.__version__ and len(entry["commit"]) == 40
    assert "seed_everything(3)" in entry["call"] and "size=96" in entry["call"]
    assert entry["history"] in entries and PROVENANCE <= entries[entry["history"]].keys()


def test_the_recorded_accuracy_is_what_the_loaded_network_gives(shipped):
    out, entries = shipped
    model = bam.pretrained.load(NET.name, device="cpu", folder=out)
    assert not model.training
    _, accuracy = evaluate(model, load("shapes", "test", size=SIZES[1]), amp=False)
    assert accuracy == entries[NET.name]["results"]["test_acc"]
    assert abs(accuracy - entries[NET.name]["results"]["test_acc_float32_weights"]) <= 0.001


def test_weights_ship_in_float16(shipped):
    out, _ = shipped
    state = torch.load(out / f"{NET.name}.pt", weights_only=True)
    floats = [t for t in state.values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float16 for t in floats)


def test_the_history_reads_back(shipped):
    out, entries = shipped
    history = bam.pretrained.history(NET.name, folder=out)
    assert history.test_acc == entries[f"{NET.name}.history"]["results"]["test_acc"]
    assert len(history) == TINY["epochs"]


def test_a_tampered_file_is_refused(shipped, tmp_path):
    out, _ = shipped
    copy = tmp_path / "results"
    copy.mkdir()
    for path in out.iterdir():
        copy.joinpath(path.name).write_bytes(path.read_bytes())
    weights = copy / f"{NET.name}.pt"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(bam.pretrained.ArtifactError, match="changed or damaged"):
        bam.pretrained.load(NET.name, folder=copy)


def test_an_unknown_name_lists_what_exists(shipped):
    out, _ = shipped
    with pytest.raises(ValueError, match=f"there are: .*{NET.name}"):
        bam.pretrained.load("shapes-vgg-s0", folder=out)


def test_a_grid_is_recorded_in_run_grid_order_from_split_jobs(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir(), out.mkdir()
    a, b = {"m": 1}, {"m": 2}
    jobs = {  # the second part was split over two jobs, which finished in another order
        "08-grid-peers": [("a", a, 0, 0.1), ("a", a, 1, 0.3)],
        "08-grid-ablations": [("b", b, 1, 0.4)],
        "08-grid-ablations-late": [("b", b, 0, 0.2)],
    }
    for job, runs in jobs.items():
        for name, config, seed, error in runs:
            append_result(
                work / f"{job}.jsonl",
                {"name": name, "config": config, "seed": seed, "test_error": error},
            )
        (work / f"{job}.provenance.json").write_text(
            json.dumps(artifacts.provenance(job, threads=1))
        )
    files = sorted(work.glob("*.jsonl"))
    grids = {"peers": ({"a": a}, [0, 1]), "ablations": ({"b": b}, [0, 1])}
    entry = artifacts.record_grid(files, work, out, grids)[artifacts.GRID]
    assert entry["runs"] == 4 and set(entry["parts"]) == set(jobs)
    assert all(PROVENANCE <= made.keys() for made in entry["parts"].values())
    rows = [json.loads(line) for line in (out / f"{artifacts.GRID}.jsonl").read_text().splitlines()]
    assert [(r["name"], r["seed"]) for r in rows] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert entry["results"]["a"]["mean_test_error"] == pytest.approx(0.2)
    assert entry["results"]["a"]["std_test_error"] == pytest.approx(math.sqrt(0.02))
    (work / "08-grid-ablations-late.jsonl").unlink()
    with pytest.raises(BamError, match="lacks 1 of 4 runs"):
        artifacts.record_grid(sorted(work.glob("*.jsonl")), work, out, grids)


def write_job(work, job, rows):
    for row in rows:
        append_result(work / f"{job}.jsonl", row)
    (work / f"{job}.provenance.json").write_text(json.dumps(artifacts.provenance(job, threads=1)))


def test_a_grid_keeps_the_shipped_runs_no_job_trained_anew(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir(), out.mkdir()
    a, b, c = {"m": 1}, {"m": 2}, {"m": 3}
    shipped = [
        {"name": "a", "config": a, "seed": 0, "test_error": 0.1},
        {"name": "c", "config": c, "seed": 0, "test_error": 0.3},
        {"name": "c", "config": c, "seed": 1, "test_error": 0.4},
    ]
    old = artifacts.provenance("the build before", threads=1)
    shipped_parts = {"08-grid-peers": old, "08-grid-ablations": old}
    # Each job's file started with the shipped runs of its part and seed (keep_shipped).
    new = {"name": "b", "config": b, "seed": 0, "test_error": 0.2}
    write_job(work, "08-grid-peers-s0", [shipped[0], new])
    write_job(work, "08-grid-ablations-s0", [shipped[1]])
    files = sorted(work.glob("*.jsonl"))
    grids = {"peers": ({"a": a, "b": b}, [0]), "ablations": ({"c": c}, [0, 1])}
    entry = artifacts.record_grid(files, work, out, grids, shipped, shipped_parts)[artifacts.GRID]
    rows = read_results(out / f"{artifacts.GRID}.jsonl")
    assert rows == [*shipped[:1], new, *shipped[1:]]
    assert entry["runs"] == 4 and entry["runs_carried_over"] == 3
    # The job that only holds copies of shipped runs made none of them.
    assert set(entry["parts"]) == {"08-grid-peers", "08-grid-ablations", "08-grid-peers-s0"}
    assert entry["parts"]["08-grid-peers"] == old
    grids["ablations"] = ({"c": c}, [0, 1, 2])
    with pytest.raises(BamError, match="lacks 1 of 5 runs \\(c seed 2"):
        artifacts.record_grid(files, work, out, grids, shipped, shipped_parts)


def shipped_results(folder, rows, networks=()):
    """A folder of shipped results: a manifest listing ``networks`` and the grid's ``rows``."""
    folder.mkdir()
    entries = {name: {"kind": "checkpoint"} for name in networks}
    grid = folder / f"{artifacts.GRID}.jsonl"
    for row in rows:
        append_result(grid, row)
    if rows:  # the grid is read only through its digest
        entries[artifacts.GRID] = {"kind": "grid", "file": grid.name, "sha256": sha256(grid)}
    manifest = {"format": 1, "artifacts": entries}
    (folder / bam.pretrained.MANIFEST).write_text(json.dumps(manifest))
    return folder


def lesson_rows(part, seed):
    configs = dict(zip(artifacts.GRID_PARTS, lesson_grid("cpu"), strict=True))[part]
    return [
        {"name": name, "config": config, "seed": seed, "test_error": 0.1}
        for name, config in configs.items()
    ]


def test_a_grid_job_starts_from_the_runs_of_its_part_and_seed_that_ship(tmp_path):
    work = tmp_path / "work"
    *kept, _ = lesson_rows("peers", 0)  # the last peer, BAM started as the identity, is new
    # The other seeds and parts ship too: none of them is this job's.
    others = lesson_rows("peers", 1) + lesson_rows("ablations", 0)
    results = shipped_results(tmp_path / "results", kept + others)
    assert not artifacts.keep_shipped("08-grid-peers-s0", work, results)
    job = work / "08-grid-peers-s0.jsonl"
    assert read_results(job) == kept
    # Asked again (make artifacts restarted, say), it does not give the job the runs twice.
    artifacts.keep_shipped("08-grid-peers-s0", work, results)
    assert read_results(job) == kept


def test_a_grid_job_whose_runs_all_ship_has_nothing_to_train(tmp_path):
    results = shipped_results(tmp_path / "results", lesson_rows("peers", 0))
    assert artifacts.keep_shipped("08-grid-peers-s0", tmp_path / "work", results)


def test_a_network_job_has_nothing_to_train_if_its_network_ships(tmp_path):
    results = shipped_results(tmp_path / "results", [], networks=["shapes-resnet20-s0"])
    assert artifacts.keep_shipped("shapes-resnet20-s0", tmp_path / "work", results)
    assert not artifacts.keep_shipped("shapes-bam_resnet20-identity-s0", tmp_path / "work", results)


def test_changed_figures_are_reported():
    old = {"x": {"test_acc": 0.9, "nested": {"a": 1}}}
    new = {"x": {"test_acc": 0.91, "nested": {"a": 1}}}
    assert artifacts.changes(old, new) == ["x.test_acc: 0.9 -> 0.91"]


def record_threads(argv):
    """A job's main that writes where it ran: its torch threads and OpenMP's wait policy."""
    import os

    (path,) = argv
    with open(path, "w") as f:
        json.dump({"threads": torch.get_num_threads(), "wait": os.environ["OMP_WAIT_POLICY"]}, f)


def refuse(argv):
    raise ValueError(f"no such network: {argv[0]}")


@pytest.mark.integration  # submitit starts a worker process per job
def test_the_jobs_run_in_the_worker_pool_and_a_failure_is_named(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    import sys

    import cloudpickle

    # Worker processes cannot import this test module: send its functions along by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    where = tmp_path / "where.json"
    monkeypatch.setattr(artifacts, "WORK", tmp_path)
    monkeypatch.setattr(
        artifacts,
        "jobs",
        lambda: {
            "fine": artifacts.Job("tools.artifacts", (str(where),), record_threads),
            "broken": artifacts.Job("tools.artifacts", ("x",), refuse),
        },
    )
    # The failure is named in one line once the other job has finished.
    with pytest.raises(
        BamError, match=r"1 of 2 jobs failed: broken \(job \w+: ValueError: no such network: x\)"
    ):
        artifacts.run_jobs(workers=2)
    assert json.loads(where.read_text()) == {"threads": 1, "wait": "PASSIVE"}
    for job in ("fine", "broken"):  # each recorded its provenance when it started
        made = json.loads((tmp_path / f"{job}.provenance.json").read_text())
        assert made["threads"] == 1 and " -m tools.artifacts " in made["command"]
