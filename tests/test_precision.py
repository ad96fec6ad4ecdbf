"""Mixed precision by device: float16 with gradient scaling below compute capability 8.0,
bfloat16 from 8.0, float32 where neither pays; fit uses, prints and records the choice."""

import pytest
import torch

import bam.runtime
from bam.data import make_shapes
from bam.models import CifarResNet
from bam.runtime import Precision, choose_precision
from bam.train import fit

CUDA = torch.device("cuda")


@pytest.fixture
def capability(monkeypatch):
    """Pretend the CUDA device has the given compute capability (no GPU needed)."""

    def pretend(major: int, minor: int) -> None:
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, minor))
        # What misled the old code on a T4: bfloat16 "supported" by emulation.
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)

    return pretend


@pytest.mark.parametrize(
    ("major", "minor", "dtype", "scaled"),
    [
        (7, 5, torch.float16, True),  # T4, Colab's free GPU
        (7, 0, torch.float16, True),  # V100
        (8, 0, torch.bfloat16, False),  # A100
        (8, 9, torch.bfloat16, False),  # L4
        (9, 0, torch.bfloat16, False),  # H100
        (6, 1, None, False),  # GTX 1080: no tensor cores
    ],
)
def test_cuda_precision_follows_the_compute_capability(capability, major, minor, dtype, scaled):
    capability(major, minor)
    precision = choose_precision(CUDA)
    assert precision.dtype == dtype and precision.scaled is scaled
    assert f"{major}.{minor}" in str(precision)


def test_a_t4_trains_in_float16_with_gradient_scaling_not_emulated_bfloat16(capability):
    capability(7, 5)
    assert str(choose_precision(CUDA)).startswith("float16 autocast with gradient scaling")


def test_mixed_precision_can_be_forced_or_turned_off_on_cuda(capability):
    capability(6, 1)
    assert choose_precision(CUDA, amp=True).dtype == torch.float16
    capability(9, 0)
    assert choose_precision(CUDA, amp=False) == Precision(None, "mixed precision off")


def test_mps_keeps_float32_and_refuses_mixed_precision():
    mps = torch.device("mps")
    assert choose_precision(mps).dtype is None and not choose_precision(mps).scaled
    with pytest.raises(ValueError, match="not mps: pass amp=False"):
        choose_precision(mps, amp=True)


@pytest.mark.parametrize(("native", "dtype"), [(True, torch.bfloat16), (False, None)])
def test_the_cpu_uses_bfloat16_only_where_it_is_native(monkeypatch, native, dtype):
    monkeypatch.setattr(bam.runtime, "cpu_has_native_bfloat16", lambda: native)
    assert choose_precision(torch.device("cpu")).dtype == dtype
    assert choose_precision(torch.device("cpu"), amp=True).dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("precision", "scale_saved"),
    [
        (Precision(torch.float16, "as on a T4"), True),
        (Precision(torch.bfloat16, "as on an A100"), False),
    ],
)
def test_fit_prints_records_and_scales_as_its_precision_says(
    monkeypatch, tmp_path, capsys, precision, scale_saved
):
    # The CPU runs float16 autocast and a GradScaler too, so fit's wiring is tested without
    # a GPU: the choice that choose_precision makes for a T4 or an A100 is handed to fit.
    monkeypatch.setattr(bam.train, "choose_precision", lambda device, amp=None: precision)
    torch.manual_seed(0)
    model = CifarResNet(8, widths=(8, 8, 8))
    data = make_shapes("train", size=128)
    history = fit(model, data, epochs=2, batch_size=64, device="cpu", checkpoint=tmp_path)
    out = capsys.readouterr().out
    assert out.count("precision: ") == 1 and f"precision: {precision}" in out
    assert history.config["amp"] == precision.name
    scaler = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["scaler"]
    assert ("scale" in scaler) is scale_saved  # a disabled GradScaler saves an empty state
