"""bam.lesson_plan: what lessons 06-08 do on a CUDA GPU is decided, and tested, without one."""

import pytest
import torch

from bam import lesson_plan as plan
from bam.data import make_shapes
from bam.history import History
from bam.train import CIFAR_RECIPE, SHAPES_RECIPE

CUDA = torch.device("cuda")  # a device object needs no GPU: only the decision is asked


def test_without_retrain_every_device_loads_the_shipped_shapes_runs():
    for device in (CUDA, "cpu", "mps"):
        chosen = plan.lesson06(device)
        assert (chosen.dataset, chosen.train_all) == ("shapes", False)
        assert chosen.recipe == SHAPES_RECIPE and "RETRAIN = True" in chosen.why
        assert chosen.live_epochs == SHAPES_RECIPE["epochs"] // 2  # beside the shipped runs


def test_retrain_trains_cifar10_on_a_cuda_gpu_and_shapes_elsewhere():
    gpu, cpu = plan.lesson06(CUDA, retrain=True), plan.lesson06("cpu", retrain=True)
    assert (gpu.dataset, gpu.recipe, gpu.train_all) == ("cifar10", CIFAR_RECIPE, True)
    assert (cpu.dataset, cpu.recipe, cpu.train_all) == ("shapes", SHAPES_RECIPE, True)
    # no CIFAR-10 to be had (offline): the GPU trains the Shapes runs with their own recipe
    offline = plan.lesson06(CUDA, retrain=True, cifar=False)
    assert (offline.dataset, offline.recipe) == ("shapes", SHAPES_RECIPE)


def test_fast_mode_trains_toy_runs_whatever_the_device():
    for device in (CUDA, "cpu"):
        for retrain in (False, True):
            chosen = plan.lesson06(device, retrain=retrain, fast=True)
            assert chosen.dataset == "shapes" and chosen.recipe["epochs"] == 2
            assert chosen.train_all == retrain and chosen.live_epochs == 2


def test_lesson06_minutes_add_up_every_network_and_seed():
    rates = {"resnet20": 60_000.0, "bam_resnet20": 30_000.0}
    one = plan.run_minutes(60_000, 40)
    # 50,000 training images and a third of the cost of 10,000 test images, 40 times
    assert one == pytest.approx(40 * (50_000 + 10_000 / 3) / 60_000 / 60)
    # three seeds of the plain network, six of the two BAMs at half the rate
    assert plan.lesson06_minutes(rates) == pytest.approx(3 * one + 6 * 2 * one)
    # on a CPU, RETRAIN trains the Shapes runs: 8 epochs of 10,000 images (2,000 to test)
    shapes = plan.run_minutes(60_000, SHAPES_RECIPE["epochs"], (10_000, 2_000))
    assert plan.lesson06_minutes(rates, "cpu") == pytest.approx(3 * shapes + 6 * 2 * shapes)
    assert plan.lesson06_minutes(rates, "cpu", (10_000, 2_000)) == plan.lesson06_minutes(
        rates, "cpu"
    )


def test_lesson07_loads_lesson06s_cifar_run_on_a_gpu_and_trains_it_only_on_request(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("BAM_RUNS", str(tmp_path))
    assert plan.lesson07_cifar("cpu", retrain=True) == (False, plan.lesson07_cifar("cpu")[1])
    assert not plan.lesson07_cifar(CUDA, retrain=True, fast=True)[0]
    runs, why = plan.lesson07_cifar(CUDA)
    assert not runs and "set RETRAIN = True" in why
    assert plan.lesson07_cifar(CUDA, retrain=True)[0]
    # lesson 06's run, finished: loaded whatever RETRAIN says; unfinished: not
    History(epoch=list(range(1, 11))).save(tmp_path / plan.LESSON07_CIFAR_RUN / "history.json")
    assert not plan.lesson07_cifar(CUDA)[0]
    epochs = list(range(1, CIFAR_RECIPE["epochs"] + 1))
    History(epoch=epochs).save(tmp_path / plan.LESSON07_CIFAR_RUN / "history.json")
    runs, why = plan.lesson07_cifar(CUDA)
    assert runs and why.startswith("loading lesson 06's finished run")


@pytest.mark.parametrize(
    "minutes, seeds",
    [(0.5, ([0, 1, 2], [0, 1, 2])), (1.0, ([0, 1, 2], [0])), (2.0, ([0], [0])), (9, ([0], [0]))],
)
def test_lesson08s_grid_drops_seeds_until_it_fits_the_budget(minutes, seeds):
    # 7 peers and 22 ablations: 87 runs with three seeds each, 43 with one seed of ablations
    assert plan.grid_seeds(minutes, peers=7, ablations=22, budget=60) == seeds


@pytest.mark.parametrize(
    "minutes, said", [(0.5, "under a minute"), (11.2, "about 12 min"), (150, "about 2.5 h")]
)
def test_estimates_are_said_rounded(minutes, said):
    assert plan.say_minutes(minutes) == said


def test_the_rate_is_measured_with_fit_on_this_device():
    data = make_shapes("train", size=128)
    rate = plan.measure_rate("resnet20", data, "cpu", batch_size=32, batches=2)
    assert rate > 0


def test_lesson08_sizes_its_grid_from_a_rate_measured_on_the_device():
    data = make_shapes("train", size=64)
    config = {"epochs": 1, "batch_size": 16}
    peer_seeds, ablation_seeds, each = plan.lesson08_seeds("cpu", config, 7, 22, data)
    assert each > 0
    assert (peer_seeds, ablation_seeds) == plan.grid_seeds(each, 7, 22)
