"""bam.lesson_plan: what lessons 06-08 do on a CUDA GPU is decided, and tested, without one."""

import pytest
import torch

from bam import lesson_plan as plan
from bam.data import make_shapes
from bam.train import CIFAR_RECIPE, SHAPES_RECIPE

CUDA = torch.device("cuda")  # a device object needs no GPU: only the decision is asked


def test_without_retrain_every_device_loads_the_shipped_shapes_runs():
    for device in (CUDA, "cpu", "mps"):
        chosen = plan.lesson06(device)
        assert (chosen.dataset, chosen.train_all) == ("shapes", False)
        assert chosen.recipe == SHAPES_RECIPE and "RETRAIN = True" in chosen.why


def test_retrain_trains_cifar10_on_a_cuda_gpu_and_shapes_elsewhere():
    gpu, cpu = plan.lesson06(CUDA, retrain=True), plan.lesson06("cpu", retrain=True)
    assert (gpu.dataset, gpu.recipe, gpu.train_all) == ("cifar10", CIFAR_RECIPE, True)
    assert (cpu.dataset, cpu.recipe, cpu.train_all) == ("shapes", SHAPES_RECIPE, True)


def test_fast_mode_trains_toy_runs_whatever_the_device():
    for device in (CUDA, "cpu"):
        chosen = plan.lesson06(device, retrain=True, fast=True)
        assert chosen.dataset == "shapes" and chosen.recipe["epochs"] == 2


def test_lesson06_minutes_add_up_every_network_and_seed():
    rates = {"resnet20": 60_000.0, "bam_resnet20": 30_000.0}
    one = plan.run_minutes(60_000, 40)
    # 50,000 training images and a third of the cost of 10,000 test images, 40 times
    assert one == pytest.approx(40 * (50_000 + 10_000 / 3) / 60_000 / 60)
    # three seeds of the plain network, six of the two BAMs at half the rate
    assert plan.lesson06_minutes(rates) == pytest.approx(3 * one + 6 * 2 * one)


@pytest.mark.parametrize(
    "minutes, said", [(0.5, "under a minute"), (11.2, "about 12 min"), (150, "about 2.5 h")]
)
def test_estimates_are_said_rounded(minutes, said):
    assert plan.say_minutes(minutes) == said


def test_the_rate_is_measured_with_fit_on_this_device():
    data = make_shapes("train", size=128)
    rate = plan.measure_rate("resnet20", data, "cpu", batch_size=32, batches=2)
    assert rate > 0
