"""The checks of lessons 05 and 06 accept correct answers and explain wrong ones."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bam import BAM, add_bam, checks


def test_check_add_bam_accepts_the_reference(capsys):
    checks.check_add_bam(add_bam)
    assert "check_add_bam: ok" in capsys.readouterr().out


def test_check_add_bam_refuses_a_bam_after_the_last_stage():
    def every_stage(model):
        for name in ("layer1", "layer2", "layer3", "layer4"):
            if hasattr(model, name):
                stage = getattr(model, name)
                channels = [m for m in stage.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
                stage.append(BAM(channels))
        return model

    with pytest.raises(AssertionError, match="none after the last stage"):
        checks.check_add_bam(every_stage)


def test_check_add_bam_refuses_a_bam_at_the_start_of_a_stage():
    def before(model):
        names = [n for n in ("layer1", "layer2", "layer3", "layer4") if hasattr(model, n)]
        for name in names[:-1]:
            stage = getattr(model, name)
            channels = [m for m in stage.modules() if isinstance(m, nn.Conv2d)][0].in_channels
            stage.insert(0, BAM(channels))
        return model

    with pytest.raises(AssertionError, match="feature maps of shape"):
        checks.check_add_bam(before)


def test_check_add_bam_asks_for_the_model_back():
    with pytest.raises(AssertionError, match="return the model"):
        checks.check_add_bam(lambda model: None)


def test_check_add_bam_says_an_unfinished_stub_is_not_written_yet():
    def stub(model):
        raise NotImplementedError

    with pytest.raises(AssertionError, match="not written yet"):
        checks.check_add_bam(stub)


def crop_with_a_loop(images, top, left, padding):
    padded = F.pad(images, (padding,) * 4)
    h, w = images.shape[2:]
    return torch.stack(
        [
            p[:, t : t + h, s : s + w]
            for p, t, s in zip(padded, top.tolist(), left.tolist(), strict=True)
        ]
    )


def test_check_crop_accepts_a_correct_crop(capsys):
    checks.check_crop(crop_with_a_loop)
    assert "check_crop: ok" in capsys.readouterr().out


def test_check_crop_names_swapped_offsets():
    with pytest.raises(AssertionError, match="swapped"):
        checks.check_crop(
            lambda images, top, left, padding: crop_with_a_loop(images, left, top, padding)
        )


def test_check_crop_names_the_image_that_differs():
    with pytest.raises(AssertionError, match="image 0 differs"):
        checks.check_crop(lambda images, top, left, padding: images)
