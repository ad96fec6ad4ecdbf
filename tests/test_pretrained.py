"""The results that ship in bam/results/: every file is the one the manifest describes, every
network gives the manifest's accuracy, and lesson 08 resumes the shipped grid without training."""

import math

import pytest
import torch

import bam.pretrained
from bam.data import load
from bam.experiments import SEEDS, lesson_grid, read_results, run_grid, summarize
from bam.train import evaluate
from tools import artifacts

MANIFEST = bam.pretrained.manifest()["artifacts"]
CHECKPOINTS = bam.pretrained.available("checkpoint")
MAX_BYTES = 20_000_000


def test_every_manifest_digest_matches_its_file():
    for name, entry in MANIFEST.items():
        path = bam.pretrained.verified_path(name)
        assert path.stat().st_size == entry["bytes"], name


def test_every_file_in_the_folder_is_in_the_manifest():
    shipped = {entry["file"] for entry in MANIFEST.values()} | {bam.pretrained.MANIFEST}
    assert {p.name for p in bam.pretrained.RESULTS.iterdir()} == shipped


def test_everything_shipped_fits_the_size_budget():
    total = sum(p.stat().st_size for p in bam.pretrained.RESULTS.iterdir())
    assert total <= MAX_BYTES


def test_every_lesson_network_ships():
    assert set(CHECKPOINTS) == {net.name for net in artifacts.NETWORKS}
    assert {lesson for name in CHECKPOINTS for lesson in MANIFEST[name]["lessons"]} == {
        "05",
        "06",
        "07",
    }


def test_the_identity_started_networks_name_the_call_that_made_them():
    started = [name for name in CHECKPOINTS if MANIFEST[name].get("init") == "identity"]
    assert started == [f"shapes-bam_resnet20-identity-s{seed}" for seed in range(3)]
    for name in started:
        call = MANIFEST[name]["call"]
        assert "create('bam_resnet20', num_classes=10, init='identity')" in call, name
        assert f"seed_everything({MANIFEST[name]['seed']})" in call, name


def test_every_artifact_carries_its_provenance():
    for name, entry in MANIFEST.items():
        made = [entry] if entry["kind"] != "grid" else list(entry["parts"].values())
        for m in made:
            assert {"command", "commit", "torch", "threads", "started"} <= m.keys(), name
            assert m["dirty"] is False, f"{name} was trained from a tree with changes"
        assert {"what", "sha256", "results"} <= entry.keys(), name


@pytest.fixture(scope="module")
def test_set():
    return load("shapes", "test")


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_a_shipped_network_gives_the_manifest_accuracy(name, test_set):
    model = bam.pretrained.load(name, device="cpu")
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    loss, accuracy = evaluate(model, test_set, amp=False)
    results = MANIFEST[name]["results"]
    assert accuracy == results["test_acc"]
    assert loss == pytest.approx(results["test_loss"], abs=1e-5)
    # Half precision costs at most 0.1 point against the float32 weights.
    assert abs(accuracy - results["test_acc_float32_weights"]) <= 0.001


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_a_shipped_history_is_that_of_its_network(name):
    history = bam.pretrained.history(name)
    entry = MANIFEST[name]
    assert len(history) == entry["recipe"]["epochs"]
    assert history.test_acc[-1] == entry["results"]["test_acc_during_training"]
    assert history.config["seed"] == entry["seed"]
    assert history.train_loss[-1] < history.train_loss[0]


def test_the_shipped_grid_is_lesson_08s_whole_grid(tmp_path):
    rows = bam.pretrained.grid(artifacts.GRID)
    peers, ablations = lesson_grid("cpu")
    peer_seeds, ablation_seeds = SEEDS["cpu"]
    assert len(rows) == len(peers) * len(peer_seeds) + len(ablations) * len(ablation_seeds) == 65

    def must_not_train(config, seed):
        raise AssertionError(f"the shipped grid lacks {config} seed {seed}")

    path = tmp_path / "grid.jsonl"  # a copy: resuming must write nothing, but never in place
    path.write_bytes(bam.pretrained.verified_path(artifacts.GRID).read_bytes())
    found = run_grid(peers, peer_seeds, path, train=must_not_train, log=None)
    found += run_grid(ablations, ablation_seeds, path, train=must_not_train, log=None)
    assert found == rows
    assert read_results(path) == rows  # resuming wrote nothing


def test_the_grid_summary_in_the_manifest_is_the_grid_s():
    summaries = summarize(bam.pretrained.grid(artifacts.GRID), "test_error")
    recorded = MANIFEST[artifacts.GRID]["results"]
    assert {s.name for s in summaries} == set(recorded)  # the manifest sorts its keys
    for s in summaries:
        assert recorded[s.name]["mean_test_error"] == pytest.approx(s.mean, abs=1e-12)
        std = recorded[s.name]["std_test_error"]
        assert (math.isnan(s.std) and std is None) or std == pytest.approx(s.std, abs=1e-12)


def test_loading_refuses_a_tampered_manifest_entry(tmp_path):
    name = CHECKPOINTS[0]
    for path in bam.pretrained.RESULTS.iterdir():
        tmp_path.joinpath(path.name).write_bytes(path.read_bytes())
    weights = tmp_path / MANIFEST[name]["file"]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed, in the middle of the tensors
    weights.write_bytes(bytes(data))
    with pytest.raises(bam.pretrained.ArtifactError, match="not loaded"):
        bam.pretrained.load(name, folder=tmp_path)


def test_the_grid_s_plain_and_bam_runs_are_lesson_06_s_to_the_last_bit():
    # Two commands, one call: train_config (the grid) and fit with a test set (lesson 06) train
    # the same weights at the same thread count, so their final training losses are equal.
    grid = {
        (row["config"]["model"], row["config"].get("init", "default"), row["seed"]): row
        for row in bam.pretrained.grid(artifacts.GRID)
        if row["name"] in ("ResNet-20", "+ BAM", "+ BAM, identity init")
    }
    assert len(grid) == len(artifacts.NETWORKS) == 9
    for net in artifacts.NETWORKS:
        history = bam.pretrained.history(net.name)
        row = grid[net.model, net.init, net.seed]
        assert row["train_loss"] == history.train_loss[-1], net.name
