"""bam.runtime's helpers for models: their device, eval mode that restores, device names; and
measurement that does not import drawing."""

from pathlib import Path

import pytest
import torch

import bam.runtime

ROOT = Path(__file__).resolve().parents[1]


def test_eval_mode_restores_the_mode_the_model_had_even_after_an_error():
    model = torch.nn.Sequential(torch.nn.BatchNorm1d(2))
    with bam.runtime.eval_mode(model) as inside:
        assert inside is model and not model.training
    assert model.training
    model.eval()
    with pytest.raises(KeyError), bam.runtime.eval_mode(model):
        model.train()  # whatever the block does, the model comes back as it was
        raise KeyError("stop")
    assert not model.training


def test_a_models_device_is_its_parameters_and_the_cpu_without_any():
    assert bam.runtime.model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert bam.runtime.model_device(torch.nn.ReLU()) == torch.device("cpu")


def test_a_device_name_that_is_none_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        bam.runtime.get_device("gpu")
    assert bam.runtime.get_device("cpu") == torch.device("cpu")
