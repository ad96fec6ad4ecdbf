"""The fused gate: the plain formula's values, the exact gradients, nothing full-size saved."""

import copy

import pytest
import torch
from torch.autograd import gradcheck

from bam import BAM, capture_attention
from bam.layers.fused_gate import COMBINE_MODES, fused_gate, plain_gate
from bam.models import create

MODES = list(COMBINE_MODES)
LAYOUTS = {"nchw": torch.contiguous_format, "channels-last": torch.channels_last}


def seeded(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def inputs(batch=3, channels=8, height=5, width=7, layout="nchw", dtype=torch.float64):
    """F, Mc and Ms for a non-square map, F in the given memory format, all requiring grad."""
    x = seeded(batch, channels, height, width, dtype=dtype).contiguous(
        memory_format=LAYOUTS[layout]
    )
    mc = seeded(batch, channels, 1, 1, seed=1, dtype=dtype)
    ms = seeded(batch, 1, height, width, seed=2, dtype=dtype)
    return [t.requires_grad_() for t in (x, mc, ms)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("combine", MODES)
def test_gradients_match_finite_differences_in_float64(combine, layout):
    x, mc, ms = inputs(layout=layout)
    assert gradcheck(lambda *t: fused_gate(*t, combine), (x, mc, ms))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("combine", MODES)
def test_values_and_gradients_equal_the_plain_formula(combine, layout):
    fused_in = inputs(layout=layout, dtype=torch.float32)
    plain_in = [t.detach().clone().requires_grad_() for t in fused_in]
    out = fused_gate(*fused_in, combine)
    expected = plain_gate(*plain_in, combine)
    assert torch.equal(out, expected)  # the same kernels in the same order: the same bits
    torch.testing.assert_close(
        out, fused_in[0] * (1 + torch.sigmoid(COMBINE_MODES[combine](*fused_in[1:])))
    )
    grad = seeded(*out.shape, seed=3)
    out.backward(grad)
    expected.backward(grad)
    for mine, theirs in zip(fused_in, plain_in, strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad)


def test_a_tie_in_max_mode_splits_the_gradient_as_torch_maximum_does():
    x, mc, ms = inputs(batch=2, channels=4, height=3, width=3)
    with torch.no_grad():
        ms[0, 0, 1, 1] = mc[0, 2, 0, 0]  # one position where both logits are equal
    plain = [t.detach().clone().requires_grad_() for t in (x, mc, ms)]
    fused_gate(x, mc, ms, "max").sum().backward()
    plain_gate(*plain, "max").sum().backward()
    for mine, theirs in zip((x, mc, ms), plain, strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad)


def pair(combine="sum", channels=32, layout="nchw"):
    torch.manual_seed(0)
    fused = BAM(channels, reduction=4, combine=combine).to(memory_format=LAYOUTS[layout])
    plain = copy.deepcopy(fused)
    plain.fused = False
    return fused, plain


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("combine", MODES)
def test_bam_gives_the_plain_formulas_output_bit_for_bit(combine, training, layout):
    fused, plain = pair(combine, layout=layout)
    fused.train(training), plain.train(training)
    x = seeded(4, 32, 9, 14).contiguous(memory_format=LAYOUTS[layout])
    xf, xp = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, expected = fused(xf), plain(xp)
    assert torch.equal(out, expected)
    assert out.is_contiguous(memory_format=LAYOUTS[layout])
    grad = seeded(*out.shape, seed=5)
    out.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(xf.grad, xp.grad)
    for (name, p), q in zip(fused.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    if training:  # the running statistics moved the same way
        for a, b in zip(fused.buffers(), plain.buffers(), strict=True):
            assert torch.equal(a, b)


def test_bfloat16_autocast_stays_within_bfloat16_rounding_of_the_plain_formula():
    fused, plain = pair(layout="channels-last")
    x = seeded(4, 32, 8, 8).contiguous(memory_format=torch.channels_last)
    xf, xp = x.clone().requires_grad_(), x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, expected = fused(xf.bfloat16()), plain(xp.bfloat16())
    assert out.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(out, expected, rtol=1e-2, atol=1e-2)
    out.float().square().mean().backward()
    expected.float().square().mean().backward()
    torch.testing.assert_close(xf.grad, xp.grad, rtol=2e-2, atol=1e-3)


def saved_full_size(module, x):
    """Storages of x's full size that autograd keeps for one backward pass, x's own excluded."""
    full = x.numel() * x.element_size()
    kept = set()

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() != x.untyped_storage().data_ptr() and storage.nbytes() >= full:
            kept.add(storage.data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(x)
    return len(kept)


@pytest.mark.parametrize("combine", MODES)
def test_the_fused_gate_keeps_no_full_size_tensor_beyond_its_input(combine):
    fused, plain = pair(combine)
    x = seeded(4, 32, 9, 14).requires_grad_()
    assert saved_full_size(fused, x) == 0
    assert saved_full_size(plain, x) == 1  # M(F), which the fused gate recomputes


@pytest.mark.parametrize("combine", MODES)
def test_capture_gives_the_same_maps_as_with_the_plain_formula(combine):
    torch.manual_seed(0)
    model = create("bam_resnet20", combine=combine).eval()
    plain = copy.deepcopy(model)
    for m in plain.modules():
        if isinstance(m, BAM):
            m.fused = False
    x = torch.randn(2, 3, 32, 40)
    out, maps = capture_attention(model, x)
    expected_out, expected = capture_attention(plain, x)
    assert torch.equal(out, expected_out)
    for name, m in maps.items():
        for part in ("channel", "spatial", "attention"):
            assert torch.equal(getattr(m, part), getattr(expected[name], part)), (name, part)
        op = COMBINE_MODES[combine]
        assert torch.equal(m.attention, torch.sigmoid(op(m.channel, m.spatial)))
