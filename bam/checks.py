"""Checks for the course's exercises: a learner's layer against the ``bam`` reference.

    check_channel_gate(MyChannelGate)    lesson 01: Mc(F), paper eq. 3
    check_spatial_gate(MySpatialGate)    lesson 02: Ms(F), paper eq. 4
    check_bam(MyBAM)                     lesson 03: F * (1 + sigmoid(Mc(F) + Ms(F))), eqs. 1-2
    check_add_bam(add_bam_by_hand)       lesson 05: a BAM after every ResNet stage but the last
    check_crop(crop_batch)               lesson 06: a batch cropped at per-image offsets

Each check builds the learner's class with the reference's arguments in several configurations
(non-square inputs included) and checks, for each one: the output shape, the parameter count,
that every parameter gets a gradient, and the outputs in training and in eval mode. It prints
one line on success and raises an ``AssertionError`` that says what is wrong on failure.

Outputs are compared by behaviour, whatever names or containers the learner chose: the layers
with weights (Conv2d, Linear, BatchNorm) are listed in the order the forward pass runs them, for
both modules, and the reference's weights are copied into the learner's layers one by one (a 1x1
convolution's weight fits a Linear layer of the same size). A bias right before a BatchNorm is
accepted and set to zero: BatchNorm subtracts the mean, so such a bias cannot change the output.

``parameters_without_gradient`` and ``allocated_bytes`` are the tests of lesson 04 (bug hunt).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from bam.layers import BAM, ChannelGate, SpatialGate
from bam.layers.validation import hidden_width
from bam.receptive_field import receptive_field

WEIGHTED = (nn.Conv2d, nn.Linear)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
ASPECTS = ("shape", "parameters", "gradients", "train-mode outputs", "eval-mode outputs")
RTOL, ATOL = 1e-4, 1e-5
BATCH = 4


# ---------------------------------------------------------------- tests shared with lesson 04


def parameters_without_gradient(module: nn.Module, x: torch.Tensor, seed: int = 0) -> list[str]:
    """Names of the parameters of ``module`` that get no gradient from one backward pass on ``x``.

    "No gradient" is ``None`` (the parameter is not on the path to the output) or all zeros. The
    loss is a fixed random projection of the output: a plain ``out.sum()`` would be blind, since
    in training mode BatchNorm's output sums to a constant and nothing before it would get a
    gradient. The module runs in the mode it is in, on a copy: its ``.grad`` fields and its
    BatchNorm statistics are left as they were.
    """
    model = copy.deepcopy(module)
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        return []
    out = model(x)
    if not out.requires_grad:
        return [name for name, _ in named]
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(out.shape, generator=generator, dtype=out.dtype).to(out.device)
    grads = torch.autograd.grad((out * weights).sum(), [p for _, p in named], allow_unused=True)
    return [name for (name, _), g in zip(named, grads, strict=True) if g is None or not g.any()]


class _AllocationCounter(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = tree_flatten((args, kwargs))[0]
        known = {t.untyped_storage().data_ptr() for t in inputs if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in known:
                self.total += t.untyped_storage().nbytes()
                known.add(t.untyped_storage().data_ptr())
        return out


def allocated_bytes(fn: Callable, *args, **kwargs) -> int:
    """Bytes of the new tensors that the torch operations of ``fn(*args, **kwargs)`` create.

    Every result that does not share memory with the operation's inputs is counted once: views
    (``expand_as``, ``view``, slicing) and in-place operations count zero, ``repeat`` or a sum
    count the tensor they produce. It measures the memory traffic of the code as written, not
    the peak held by an allocator, so it is the same on every device and every run.
    """
    counter = _AllocationCounter()
    with counter:
        fn(*args, **kwargs)
    return counter.total


# ---------------------------------------------------------------- lining up two modules


def _size(layer: nn.Module) -> tuple[int, ...]:
    """What must match between two layers: (out, in, kh, kw) for a weighted layer, else (C,)."""
    if isinstance(layer, nn.Linear):
        return (layer.out_features, layer.in_features, 1, 1)
    if isinstance(layer, nn.Conv2d):
        return tuple(layer.weight.shape)
    return (layer.num_features,)


def _kind(layer: nn.Module) -> str:
    return "norm" if isinstance(layer, NORMS) else "weight"


def describe(layer: nn.Module) -> str:
    """A short name such as ``Conv2d(32->8, 3x3, dilation 4)`` or ``BatchNorm2d(8)``."""
    if isinstance(layer, nn.Conv2d):
        text = f"Conv2d({layer.in_channels}->{layer.out_channels}, {layer.kernel_size[0]}x"
        text += f"{layer.kernel_size[1]}"
        text += f", dilation {layer.dilation[0]})" if layer.dilation != (1, 1) else ")"
        return text
    if isinstance(layer, nn.Linear):
        return f"Linear({layer.in_features}->{layer.out_features})"
    if isinstance(layer, NORMS):
        return f"{type(layer).__name__}({layer.num_features})"
    return type(layer).__name__


def _holds_weights(module: nn.Module) -> bool:
    own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
    return not list(module.children()) and bool(own)


def execution_order(module: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The layers of ``module`` that hold weights, in the order ``module(x)`` first runs them.

    Runs once in eval mode without gradients, so nothing in the module changes.
    """
    order: list[nn.Module] = []

    def record(layer, _inputs):
        if not any(layer is seen for seen in order):
            order.append(layer)

    handles = [m.register_forward_pre_hook(record) for m in module.modules() if _holds_weights(m)]
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(x.clone())
    finally:
        for handle in handles:
            handle.remove()
        module.train(training)
    return order


def _listing(layers: list[nn.Module]) -> str:
    return ", ".join(describe(layer) for layer in layers)


def _structure_cause(expected: list[nn.Module], yours: list[nn.Module], hidden: int) -> str:
    """Why ``yours`` does not line up with ``expected``, in a learner's terms."""
    kinds = [_kind(m) for m in yours]
    expected_kinds = [_kind(m) for m in expected]
    if kinds == expected_kinds:
        pairs = zip(expected, yours, strict=True)
        ref, mine = next((r, m) for r, m in pairs if _size(r) != _size(m))
        wrong = [n for n, m in zip(_size(mine), _size(ref), strict=True) if n != m and m == hidden]
        if wrong:
            cause = f"the hidden width should be C // r = {hidden}, yours is {wrong[0]}"
        elif _size(ref)[2:] != _size(mine)[2:]:
            cause = f"the kernel should be {_size(ref)[2]}x{_size(ref)[3]}"
        else:
            cause = "the channel counts differ"
        return f"{describe(mine)} where {describe(ref)} was expected: {cause}"
    if kinds == expected_kinds[:-1] and expected_kinds[-1] == "norm":
        cause = (
            "missing the final BatchNorm: the branch ends with BN (paper eqs. 3-4), which puts "
            "the channel and spatial logits on a common scale before they are added"
        )
    elif kinds.count("norm") < expected_kinds.count("norm"):
        cause = (
            f"missing BatchNorm: expected {expected_kinds.count('norm')} BatchNorm layers (BN + "
            f"ReLU after every hidden layer, and a final BN), found {kinds.count('norm')}"
        )
    elif kinds.count("weight") != expected_kinds.count("weight"):
        cause = (
            f"expected {expected_kinds.count('weight')} Conv2d/Linear layers, found "
            f"{kinds.count('weight')}"
        )
    else:
        cause = "the layers do not come in the expected order"
    return (
        f"{cause}.\n  yours, in the order forward runs them: {_listing(yours)}"
        f"\n  expected: {_listing(expected)}"
    )


@dataclass
class _Alignment:
    pairs: list[tuple[nn.Module, nn.Module]]  # (reference layer, learner layer)
    notes: set[str]

    @torch.no_grad()
    def copy_weights(self) -> None:
        for ref, mine in self.pairs:
            if isinstance(mine, WEIGHTED):
                mine.weight.copy_(ref.weight.reshape(mine.weight.shape))
                if mine.bias is not None:
                    mine.bias.zero_()
                continue
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                source, target = getattr(ref, name), getattr(mine, name)
                if source is not None and target is not None:
                    target.copy_(source)


def _line_up(
    reference_orders: list[list[nn.Module]],
    learner: nn.Module,
    x: torch.Tensor,
    where: str,
    hidden: int,
) -> _Alignment:
    """Pair the learner's layers with the reference's, or raise with the likely cause."""
    order = execution_order(learner, x)
    unknown = [m for m in order if not isinstance(m, WEIGHTED + NORMS)]
    if unknown:
        raise AssertionError(
            f"{where}: the check compares Conv2d, Linear and BatchNorm layers, and yours uses "
            f"{_listing(unknown)}. Build the exercise from those layers."
        )
    unused = [m for m in learner.modules() if _holds_weights(m) and not any(m is o for o in order)]
    if unused:
        raise AssertionError(
            f"{where}: these layers are built in __init__ but never run in forward: "
            f"{_listing(unused)}. Did you forget to call them?"
        )
    covered = {id(p) for m in order for p in m.parameters()}
    stray = [name for name, p in learner.named_parameters() if id(p) not in covered]
    if stray:
        raise AssertionError(
            f"{where}: parameters outside Conv2d/Linear/BatchNorm layers: {', '.join(stray)}. "
            "The exercise needs no parameters of its own beyond those layers."
        )
    mine, theirs = (
        sum(p.numel() for p in learner.parameters()),
        sum(p.numel() for m in reference_orders[0] for p in m.parameters()),
    )
    for expected in reference_orders:
        if [(_kind(m), _size(m)) for m in expected] == [(_kind(m), _size(m)) for m in order]:
            break
    else:
        cause = _structure_cause(reference_orders[0], order, hidden)
        if mine == theirs:
            raise AssertionError(f"{where}: your layers do not match the reference's: {cause}")
        more = "more" if mine > theirs else "fewer"
        raise AssertionError(
            f"{where}: {abs(mine - theirs)} {more} parameters than the reference ({mine} vs "
            f"{theirs}): {cause}"
        )
    notes = set()
    biases = [m for m in order if isinstance(m, WEIGHTED) and m.bias is not None]
    if biases:
        notes.add(
            "your Conv2d/Linear layers have biases right before BatchNorm; BN subtracts the "
            "mean, so they cannot change the output (the reference has none)"
        )
    extra = sum(m.bias.numel() for m in biases)
    pairs = list(zip(expected, order, strict=True))
    if mine - extra != theirs or any(r.affine != m.affine for r, m in pairs if _kind(r) == "norm"):
        raise AssertionError(
            f"{where}: {mine} parameters (less {extra} redundant biases) where the reference "
            f"has {theirs}: are your BatchNorm layers affine (the default)?"
        )
    return _Alignment(pairs, notes)


# ---------------------------------------------------------------- comparing outputs


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=RTOL, atol=ATOL)


@torch.no_grad()
def _randomise_norms(module: nn.Module, generator: torch.Generator) -> None:
    """Move BatchNorm off its identity initialisation, so that copying it is really tested."""
    for m in module.modules():
        if isinstance(m, NORMS):
            m.weight.uniform_(0.5, 1.5, generator=generator)
            m.bias.normal_(0.0, 0.2, generator=generator)
            m.running_mean.normal_(0.0, 0.2, generator=generator)
            m.running_var.uniform_(0.5, 1.5, generator=generator)


def _unfinished(err: Exception, where: str, part: str) -> None:
    """A stub left by the student copy raises NotImplementedError: say that, not "wrong args"."""
    if isinstance(err, NotImplementedError):
        raise AssertionError(
            f"{where}: {part} is not written yet; fill in the body marked # YOUR CODE HERE"
        ) from err


def _run(module: nn.Module, x: torch.Tensor, where: str, hint: str = "") -> torch.Tensor:
    try:
        with torch.no_grad():
            out = module(x.clone())
    except Exception as err:
        _unfinished(err, where, "forward")
        raise AssertionError(
            f"{where} raised {type(err).__name__} on an input of shape {tuple(x.shape)}: {err}"
            + (f". {hint}" if hint else "")
        ) from err
    if not isinstance(out, torch.Tensor):
        raise AssertionError(f"{where}: forward should return a tensor, got {type(out).__name__}")
    return out


def _transformed(reference_output: torch.Tensor, mine: torch.Tensor) -> str:
    if _close(mine, torch.sigmoid(reference_output)):
        return (
            "your output looks like the sigmoid of the expected one: a branch returns logits; "
            "BAM applies one sigmoid, after adding the two branches"
        )
    if _close(mine, F.relu(reference_output)):
        return (
            "your output is the expected one with negatives cut to zero: no ReLU after the "
            "final BatchNorm, the logits must be free to go below zero"
        )
    return ""


@dataclass(frozen=True)
class _Exercise:
    name: str
    reference: Callable[..., nn.Module]
    signature: str
    expected_shape: Callable[[tuple[int, ...]], tuple[int, ...]]
    shape_hint: Callable[[tuple[int, ...], tuple[int, ...]], str]
    output_hint: Callable[..., str]
    dead_hint: str
    error_hint: str = ""
    branches_first: tuple[str, ...] = ()  # alternative orders: these submodules run first


def _reference_orders(exercise: _Exercise, reference: nn.Module, x: torch.Tensor):
    orders = [execution_order(reference, x)]
    if exercise.branches_first:
        names = exercise.branches_first
        orders.append([m for n in names for m in execution_order(getattr(reference, n), x)])
    return orders


def _check_one(exercise: _Exercise, cls: type, channels: int, kwargs: dict, size, g) -> set[str]:
    arguments = ", ".join([str(channels), *(f"{k}={v}" for k, v in kwargs.items())])
    where = f"{cls.__name__}({arguments})"
    try:
        learner = cls(channels, **kwargs)
    except Exception as err:
        _unfinished(err, where, "__init__")
        raise AssertionError(
            f"could not build {where}: {type(err).__name__}: {err}. The check builds your class "
            f"as {exercise.signature}: give __init__ these arguments."
        ) from err
    if not isinstance(learner, nn.Module):
        raise AssertionError(f"{cls.__name__} should subclass nn.Module")
    reference = exercise.reference(channels, **kwargs)
    _randomise_norms(reference, g)
    x = torch.randn(BATCH, channels, *size, generator=g) + torch.randn(
        BATCH, channels, 1, 1, generator=g
    )

    out = _run(learner.train(), x, where, exercise.error_hint)
    expected = exercise.expected_shape(tuple(x.shape))
    if tuple(out.shape) != expected:
        raise AssertionError(
            f"{where}: wrong output shape for an input of shape {tuple(x.shape)}: expected "
            f"{expected}, got {tuple(out.shape)}. {exercise.shape_hint(expected, tuple(out.shape))}"
        )

    hidden = hidden_width(channels, kwargs.get("reduction", 16))
    alignment = _line_up(_reference_orders(exercise, reference, x), learner, x, where, hidden)
    alignment.copy_weights()
    dead = parameters_without_gradient(learner.eval(), x)
    if dead:
        raise AssertionError(
            f"{where}: these parameters get no gradient: {', '.join(dead)}. Their layers run, "
            f"but their output never reaches the result. {exercise.dead_hint}"
        )

    for mode in ("train", "eval"):
        alignment.copy_weights()
        theirs = _run(reference.train(mode == "train"), x, "the reference")
        mine = _run(learner.train(mode == "train"), x, where)
        if not _close(mine, theirs):
            difference = (mine - theirs).abs().max().item()
            hint = _transformed(theirs, mine) or exercise.output_hint(
                learner, reference, x, mine, kwargs
            )
            raise AssertionError(
                f"{where}, {mode} mode: with the reference's weights copied into your layers, "
                f"the outputs differ by up to {difference:.3g} (max abs difference). {hint}"
            )
    return alignment.notes


def _check(exercise: _Exercise, cls: type, configs: list[tuple[int, dict, tuple[int, int]]]):
    if not isinstance(cls, type):
        raise TypeError(
            f"{exercise.name} takes your class itself, not an instance: "
            f"{exercise.name}({type(cls).__name__}), not {exercise.name}({type(cls).__name__}(...))"
        )
    notes: set[str] = set()
    threads = torch.get_num_threads()
    # The tensors are tiny: one thread is faster, and steady on a machine that is busy.
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            generator = torch.Generator().manual_seed(0)
            for channels, kwargs, size in configs:
                notes |= _check_one(exercise, cls, channels, kwargs, size, generator)
    finally:
        torch.set_num_threads(threads)
    count = len(ASPECTS) * len(configs)
    details = f"{len(configs)} configurations x {', '.join(ASPECTS)}"
    print(f"{exercise.name}: all {count} checks passed ({details})")
    for note in sorted(notes):
        print(f"note: {note}")


# ---------------------------------------------------------------- the channel branch (lesson 01)


def _channel_shape_hint(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    if got == expected[:2]:
        return "Reshape the result to (B, C, 1, 1) so that it broadcasts over H x W."
    if len(got) == 4 and got[:2] == expected[:2]:
        return (
            "The branch returns one value per channel: average over both H and W, "
            "x.mean((2, 3), keepdim=True) (avg_pool2d with a kernel of x.size(2) misses "
            "part of a non-square map)."
        )
    return "The channel branch maps (B, C, H, W) to (B, C, 1, 1): C -> C // r -> C."


def _channel_output_hint(learner, reference, x, mine, kwargs) -> str:
    learner, reference = copy.deepcopy(learner), copy.deepcopy(reference)
    with torch.no_grad():
        if _close(mine, reference.mlp(x.amax((2, 3), keepdim=True))):
            return "You pool with max; the channel branch averages over H and W."
        shifted = x.clone()
        shifted[..., -1] += 1.0
        if _close(learner(shifted), learner(x.clone())):
            return (
                f"Your output does not change when the last column of the {x.shape[2]}x"
                f"{x.shape[3]} input changes: pool over the whole map, x.mean((2, 3), "
                "keepdim=True); F.avg_pool2d(x, x.size(2)) only covers an H x H square."
            )
    return (
        "Check the pooling (an average over both H and W) and the order of the layers: "
        "Conv/Linear -> BN -> ReLU -> Conv/Linear -> BN."
    )


CHANNEL_GATE = _Exercise(
    name="check_channel_gate",
    reference=ChannelGate,
    signature="MyChannelGate(channels, reduction=16)",
    expected_shape=lambda s: (s[0], s[1], 1, 1),
    shape_hint=_channel_shape_hint,
    output_hint=_channel_output_hint,
    dead_hint="Each layer must feed the next: pool, Conv/Linear, BN, ReLU, Conv/Linear, BN.",
)


def check_channel_gate(cls: type) -> None:
    """Check a learner's channel branch ``cls(channels, reduction=16)`` against ``ChannelGate``."""
    configs = [
        (32, {"reduction": 4}, (8, 8)),
        (64, {"reduction": 16}, (6, 10)),
        (48, {"reduction": 8}, (5, 9)),
    ]
    _check(CHANNEL_GATE, cls, configs)


# ---------------------------------------------------------------- the spatial branch (lesson 02)


def _spatial_shape_hint(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    if len(got) == 4 and got[:2] == expected[:2]:
        rows, cols = expected[2] - got[2], expected[3] - got[3]
        if rows > 0 and rows == cols:
            return (
                f"Your map lost {rows} rows and {cols} columns: a 3x3 convolution with "
                "dilation d must pad by d (padding=dilation) to keep H x W."
            )
        if rows < 0 and rows == cols:
            return "Your map grew: a 3x3 convolution with dilation d pads by d, no more."
    if len(got) == 4 and got[0] == expected[0] and got[2:] == expected[2:]:
        return "The last 1x1 convolution maps the C // r hidden channels to a single map."
    return "The spatial branch maps (B, C, H, W) to (B, 1, H, W)."


def _spatial_output_hint(learner, reference, x, mine, kwargs) -> str:
    dilation = kwargs.get("dilation", 4)
    side = 4 * dilation + 9
    field = (x.shape[1], side, side)
    yours, expected = receptive_field(learner, field), receptive_field(reference, field)
    if yours != expected:
        return (
            f"Your branch sees a {yours[0]}x{yours[1]} window of the input, the reference "
            f"{expected[0]}x{expected[1]} (1 + 2 * 2 * d for d = {dilation}): are both 3x3 "
            "convolutions built with dilation=dilation and padding=dilation?"
        )
    return (
        "Check the order: 1x1 conv -> BN -> ReLU, twice (3x3 dilated conv -> BN -> ReLU), "
        "then 1x1 conv -> BN."
    )


SPATIAL_GATE = _Exercise(
    name="check_spatial_gate",
    reference=SpatialGate,
    signature="MySpatialGate(channels, reduction=16, dilation=4)",
    expected_shape=lambda s: (s[0], 1, s[2], s[3]),
    shape_hint=_spatial_shape_hint,
    output_hint=_spatial_output_hint,
    dead_hint=(
        "In the spatial branch this usually means the final 1x1 convolution is applied to a "
        "tensor from before the dilated convolutions (y = reduce(x); x = dilated(y); "
        "out = final(y)): feed each layer the previous layer's output."
    ),
)


def check_spatial_gate(cls: type) -> None:
    """Check ``cls(channels, reduction=16, dilation=4)`` against ``SpatialGate``."""
    configs = [
        (32, {"reduction": 4, "dilation": 4}, (20, 28)),
        (64, {"reduction": 16, "dilation": 2}, (9, 14)),
        (16, {"reduction": 4, "dilation": 1}, (8, 8)),
    ]
    _check(SPATIAL_GATE, cls, configs)


# ---------------------------------------------------------------- the module (lesson 03)


def _bam_shape_hint(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    return (
        "BAM refines the feature map and keeps its shape: F * (1 + M(F)), where M(F) broadcasts "
        "(B, C, 1, 1) + (B, 1, H, W) to (B, C, H, W)."
    )


def _bam_output_hint(learner, reference, x, mine, kwargs) -> str:
    reference = copy.deepcopy(reference)
    with torch.no_grad():
        c, s = reference.channel(x.clone()), reference.spatial(x.clone())
    candidates = [
        (
            x * (1 + torch.sigmoid(c * s)),
            "Your output is F * (1 + sigmoid(Mc * Ms)), the product of the authors' released "
            "code; the paper's equation 2 adds the branches: sigmoid(Mc + Ms).",
        ),
        (
            x * (1 + torch.sigmoid(torch.maximum(c, s))),
            "Your output combines the branches with a maximum; the paper adds them.",
        ),
        (
            x * torch.sigmoid(c + s),
            "Your output is F * M(F): the residual is missing. BAM returns F + F * M(F) = "
            "F * (1 + M(F)), so that it starts close to the identity.",
        ),
        (
            x * torch.sigmoid(c * s),
            "Your output is F * sigmoid(Mc * Ms): the residual is missing (F * (1 + M)) and the "
            "branches are multiplied instead of added.",
        ),
        (
            torch.sigmoid(c + s),
            "Your module returns the attention M(F); return the refined map F * (1 + M(F)).",
        ),
        (
            x * (1 + c + s),
            "Your gate is not in (0, 1): apply the sigmoid, M(F) = sigmoid(Mc(F) + Ms(F)).",
        ),
        (x + torch.sigmoid(c + s), "You add M(F) to F; BAM multiplies: F + F * M(F)."),
    ]
    for expected, hint in candidates:
        if _close(mine, expected):
            return hint
    where = x.abs() > 0.1
    gate = (mine / x - 1)[where]
    if gate.numel() and (gate.min() < -1e-3 or gate.max() > 1 + 1e-3):
        return (
            f"Your output is not F * (1 + M) with M in (0, 1): output / F - 1 ranges from "
            f"{gate.min().item():.2f} to {gate.max().item():.2f}."
        )
    dilation = kwargs.get("dilation", 4)
    dilations = {
        m.dilation[0]
        for m in learner.modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size[0] == 3
    }
    if dilations and dilations != {dilation}:
        return (
            f"Your 3x3 convolutions have dilation {sorted(dilations)}, expected {dilation}: "
            "pass dilation on to the spatial branch."
        )
    return "Check M(F) = sigmoid(Mc(F) + Ms(F)) and the output F * (1 + M(F))."


BAM_MODULE = _Exercise(
    name="check_bam",
    reference=BAM,
    signature="MyBAM(channels, reduction=16, dilation=4)",
    expected_shape=lambda s: s,
    shape_hint=_bam_shape_hint,
    output_hint=_bam_output_hint,
    dead_hint=(
        "Both branches must reach the output, M(F) = sigmoid(Mc(F) + Ms(F)), and inside the "
        "spatial branch every layer must feed the next."
    ),
    error_hint=(
        "Mc is (B, C, 1, 1) and Ms is (B, 1, H, W): add them as they are and let broadcasting "
        "make (B, C, H, W); expand_as to any other tensor gives the wrong channels."
    ),
    branches_first=("spatial", "channel"),
)


def check_bam(cls: type) -> None:
    """Check ``cls(channels, reduction=16, dilation=4)`` against ``BAM`` (the paper's sum)."""
    configs = [
        (32, {"reduction": 4, "dilation": 4}, (12, 20)),
        (64, {"reduction": 16, "dilation": 2}, (9, 14)),
    ]
    _check(BAM_MODULE, cls, configs)


# ---------------------------------------------------------------- Squeeze-and-Excitation, lesson 08


def _se_output_hint(x: torch.Tensor, gate: torch.Tensor, mine: torch.Tensor) -> str:
    if _close(mine, gate.expand_as(x)):
        return "Your output is the gate itself: SE returns F * s, the input scaled by the gate."
    if _close(mine, x * (1 + gate)):
        return "SE has no residual: it returns F * s, not F * (1 + s) as BAM does."
    return (
        "Check the order: average over H and W, Conv/Linear C -> C // r, ReLU, "
        "Conv/Linear C // r -> C, sigmoid, then multiply F by the gate."
    )


def check_squeeze_excite(cls: type) -> None:
    """Check ``cls(channels, reduction=16)`` against ``bam.layers.SqueezeExcite`` (Hu et al.,
    CVPR 2018): ``F * sigmoid(W2 ReLU(W1 GAP(F) + b1) + b2)``. Checks the output shape, the
    parameter count ``2 * C * C/r + C/r + C``, that every parameter gets a gradient, and the
    output with the reference's weights and biases copied into the learner's two layers."""
    from bam.layers.se import SqueezeExcite

    name = "check_squeeze_excite"
    if not isinstance(cls, type):
        raise TypeError(f"{name} takes your class itself, not an instance: {name}(MyClass)")
    configs = [(32, 4, (8, 8)), (64, 16, (5, 9)), (48, 8, (7, 3))]
    generator = torch.Generator().manual_seed(0)
    for channels, reduction, size in configs:
        where = f"{cls.__name__}({channels}, reduction={reduction})"
        try:
            learner = cls(channels, reduction=reduction)
        except Exception as err:
            _unfinished(err, where, "__init__")
            raise AssertionError(
                f"could not build {where}: {type(err).__name__}: {err}. The check builds your "
                "class as MySqueezeExcite(channels, reduction=16)."
            ) from err
        if not isinstance(learner, nn.Module):
            raise AssertionError(f"{cls.__name__} should subclass nn.Module")
        reference = SqueezeExcite(channels, reduction)
        with torch.no_grad():
            for p in reference.parameters():
                p.normal_(0.0, 0.5, generator=generator)
        x = torch.randn(BATCH, channels, *size, generator=generator)
        out = _run(learner, x, where)
        if out.shape != x.shape:
            raise AssertionError(
                f"{where}: the output must have the input's shape {tuple(x.shape)}, got "
                f"{tuple(out.shape)}; reshape the gate to (B, C, 1, 1) so it broadcasts."
            )
        hidden = hidden_width(channels, reduction)
        mine, theirs = (sum(p.numel() for p in m.parameters()) for m in (learner, reference))
        if mine != theirs:
            raise AssertionError(
                f"{where}: {mine} parameters, expected 2 * C * C/r + C/r + C = {theirs} "
                f"(C = {channels}, C/r = {hidden}): two layers, both with biases."
            )
        layers = execution_order(learner, x)
        sizes = [_size(m) for m in layers]
        if not all(isinstance(m, WEIGHTED) for m in layers) or sizes != [
            (hidden, channels, 1, 1),
            (channels, hidden, 1, 1),
        ]:
            raise AssertionError(
                f"{where}: expected two layers, Conv2d/Linear {channels} -> {hidden} then "
                f"{hidden} -> {channels}; yours run {_listing(layers)}"
            )
        with torch.no_grad():
            for ref, layer in zip((reference.fc1, reference.fc2), layers, strict=True):
                layer.weight.copy_(ref.weight.reshape(layer.weight.shape))
                if layer.bias is None:
                    raise AssertionError(f"{where}: {describe(layer)} needs a bias (SE has b1, b2)")
                layer.bias.copy_(ref.bias)
        dead = parameters_without_gradient(learner, x)
        if dead:
            raise AssertionError(f"{where}: these parameters get no gradient: {', '.join(dead)}")
        mine_out, expected = _run(learner, x, where), _run(reference, x, "the reference")
        if not _close(mine_out, expected):
            with torch.no_grad():
                squeezed = x.mean((2, 3), keepdim=True)
                gate = reference.gate(reference.fc2(reference.relu(reference.fc1(squeezed))))
            raise AssertionError(
                f"{where}: with the reference's weights copied, the outputs differ by up to "
                f"{(mine_out - expected).abs().max().item():.3g}. "
                + _se_output_hint(x, gate, mine_out)
            )
    print(
        f"{name}: all {4 * len(configs)} checks passed ({len(configs)} configurations x shape, "
        "parameters, gradients, outputs)"
    )


# ---------------------------------------------------------------- BAM in a ResNet, lesson 05


def _bam_inputs(model: nn.Module, x: torch.Tensor) -> tuple[list[BAM], list[tuple[int, ...]]]:
    """The BAMs of ``model`` in the order the forward pass runs them, and their input shapes."""
    seen: list[tuple[BAM, tuple[int, ...]]] = []
    handles = [
        m.register_forward_hook(lambda mod, inp, out: seen.append((mod, tuple(inp[0].shape[1:]))))
        for m in model.modules()
        if isinstance(m, BAM)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return [m for m, _ in seen], [s for _, s in seen]


def check_add_bam(fn: Callable[[nn.Module], nn.Module]) -> None:
    """Check ``fn(model)`` against ``bam.add_bam``: one ``bam.BAM`` on the output of every ResNet
    stage but the last, on a CIFAR ResNet-20 and torchvision's ResNet-18 and ResNet-50. Checks
    where the BAMs run (the feature maps they see), and the output with the reference BAMs'
    weights copied into the learner's, in eval mode."""
    import torchvision

    from bam.models import CifarResNet, add_bam

    cases = {
        "ResNet-20": (lambda: CifarResNet(20), (2, 3, 32, 32)),
        "torchvision ResNet-18": (
            lambda: torchvision.models.resnet18(num_classes=10),
            (2, 3, 64, 64),
        ),
        "torchvision ResNet-50": (
            lambda: torchvision.models.resnet50(num_classes=10),
            (2, 3, 64, 64),
        ),
    }
    for name, (build, size) in cases.items():
        x = torch.randn(size, generator=torch.Generator().manual_seed(0))
        torch.manual_seed(0)
        reference = add_bam(build()).eval()
        torch.manual_seed(0)
        try:
            mine = fn(build())
        except NotImplementedError as err:
            _unfinished(err, name, "the function")
        if not isinstance(mine, nn.Module):
            raise AssertionError(f"{name}: your function returned {mine!r}; return the model")
        mine.eval()
        theirs, expected = _bam_inputs(reference, x)
        yours, got = _bam_inputs(mine, x)
        if len(yours) != len(theirs):
            raise AssertionError(
                f"{name}: {len(yours)} BAM modules ran, expected {len(theirs)}: one after every "
                "stage but the last (layer1, layer2, ...), none after the last stage"
            )
        if got != expected:
            raise AssertionError(
                f"{name}: your BAMs see feature maps of shape (C, H, W) {got}, expected "
                f"{expected}: each BAM refines the output of a stage, before the next stage "
                "halves the resolution"
            )
        for mine_bam, reference_bam in zip(yours, theirs, strict=True):
            mine_bam.load_state_dict(reference_bam.state_dict())
        with torch.no_grad():
            if not _close(mine(x), reference(x)):
                raise AssertionError(
                    f"{name}: the BAMs sit in the right places but the output differs: each "
                    "BAM's output must replace the stage's output as the next stage's input"
                )
    print(f"check_add_bam: ok ({', '.join(cases)}: placement and outputs)")


# ---------------------------------------------------------------- batch-wise crop, lesson 06


def check_crop(fn: Callable[..., torch.Tensor]) -> None:
    """Check ``fn(images, top, left, padding)`` against ``bam.data.crop_flip`` without flips:
    image i cropped from its zero-padded copy at (top[i], left[i]), same shape as the input."""
    from bam.data import crop_flip

    g = torch.Generator().manual_seed(0)
    for b, (h, w), padding in ((16, (32, 32), 4), (5, (12, 20), 2)):
        images = torch.randint(1, 256, (b, 3, h, w), dtype=torch.uint8, generator=g)
        top, left = torch.randint(0, 2 * padding + 1, (2, b), generator=g)
        where = f"{b} images of {h}x{w}, padding {padding}"
        try:
            out = fn(images, top, left, padding)
        except Exception as err:
            _unfinished(err, where, "the function")
            raise AssertionError(f"{where}: {type(err).__name__}: {err}") from err
        if not isinstance(out, torch.Tensor) or out.shape != images.shape:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise AssertionError(
                f"{where}: expected the input's shape {tuple(images.shape)}, got {shape}"
            )
        expected = crop_flip(images, top, left, torch.zeros(b, dtype=torch.bool), padding)
        if torch.equal(out, expected):
            continue
        if torch.equal(
            out, crop_flip(images, left, top, torch.zeros(b, dtype=torch.bool), padding)
        ):
            raise AssertionError(f"{where}: top and left are swapped: top moves rows (dim 2)")
        if out.dtype != images.dtype:
            raise AssertionError(f"{where}: keep the dtype ({images.dtype}), got {out.dtype}")
        wrong = int((out != expected).flatten(1).any(1).nonzero()[0])
        t, left_i = int(top[wrong]), int(left[wrong])
        raise AssertionError(
            f"{where}: image {wrong} differs: expected rows {t}...{t + h - 1} and columns "
            f"{left_i}...{left_i + w - 1} of the image padded with zeros on every side"
        )
    print("check_crop: ok (square and non-square images, two paddings)")
