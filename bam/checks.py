"""Checks for the course's exercises: a learner's layer against the ``bam`` reference.

    check_channel_gate(MyChannelGate)    lesson 01: Mc(F), paper eq. 3
    check_spatial_gate(MySpatialGate)    lesson 02: Ms(F), paper eq. 4
    check_bam(MyBAM)                     lesson 03: F * (1 + sigmoid(Mc(F) + Ms(F))), eqs. 1-2
    check_add_bam(add_bam_by_hand)       lesson 05: a BAM after every ResNet stage but the last
    check_crop(crop_batch)               lesson 06: a batch cropped at per-image offsets
    check_squeeze_excite(MySqueezeExcite)  lesson 08: Squeeze-and-Excitation, Hu et al. 2018
    check_bug_test(test, bug=N, buggy=M)   lesson 04: grades a test the learner wrote, by mutation

Each check builds the learner's class with the reference's arguments in several configurations
(non-square inputs included) and checks, for each one: the output shape, the parameter count,
that every parameter gets a gradient, and the outputs in training and in eval mode. It prints
one line on success and raises ``CheckFailed`` (an ``AssertionError``) that says what is wrong
on failure: in Jupyter, that sentence and the line of the learner's code at fault, no traceback.
An unfinished stub is reported as ``NotWrittenYet`` by every check, with the same words; and once
this module is imported in a notebook, any cell that runs into an unfinished stub says which
exercise it waits for.

Outputs are compared by behaviour, whatever names or containers the learner chose: the layers
with weights (Conv2d, Linear, BatchNorm) are listed in the order the forward pass runs them, for
both modules, and the reference's weights are copied into the learner's layers one by one (a 1x1
convolution's weight fits a Linear layer of the same size). A bias right before a BatchNorm is
accepted and set to zero: BatchNorm subtracts the mean, so such a bias cannot change the output.

``parameters_without_gradient`` and ``allocated_bytes`` are the tests of lesson 04 (bug hunt).
``check_bug_test`` grades the learner's own tests there: see its section at the end.
"""

from __future__ import annotations

import copy
import linecache
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


# ---------------------------------------------------------------- how a check speaks


class CheckFailed(AssertionError):
    """A check's verdict that an exercise is not right yet; its message is for the learner.

    In Jupyter it shows as the message alone, plus the line of the learner's own code that raised
    when there is one (IPython calls ``_render_traceback_`` instead of printing the traceback,
    which would be a screen of this module's source). In plain Python it is an ordinary
    ``AssertionError`` with its traceback and its cause.
    """

    def _render_traceback_(self) -> list[str]:
        lines = [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self.args[0] if self.args else ''}"]
        frame = learner_frame(self.__cause__) if self.__cause__ is not None else None
        if frame is not None:
            lines.append(f"  in {_describe_frame(frame)}")
        return lines


class NotWrittenYet(CheckFailed):
    """The exercise still holds the student copy's ``raise NotImplementedError``."""


def _library_folders() -> tuple[str, ...]:
    """Where code that is not the learner's lives: this package, torch, the standard library."""
    import torch as _torch

    folders = {Path(__file__).resolve().parent, Path(_torch.__file__).resolve().parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        folders.add(Path(sysconfig.get_paths()[key]).resolve())
    return tuple(str(folder) for folder in folders)


LIBRARY_FOLDERS = _library_folders()


def _is_learners(filename: str) -> bool:
    if filename.startswith("<") and not filename.startswith("<ipython-input"):
        return False  # frozen modules, <string> from exec of library code
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return not path.startswith(LIBRARY_FOLDERS)


def learner_frame(err: BaseException):
    """The innermost frame of ``err``'s traceback that runs the learner's code, or None."""
    found, tb = None, err.__traceback__
    while tb is not None:
        if _is_learners(tb.tb_frame.f_code.co_filename):
            found = tb
        tb = tb.tb_next
    return found


def _cell_name(filename: str) -> str | None:
    """``In[13]`` for the code of a notebook cell, None elsewhere."""
    shell = _ipython()
    named = shell.compile.format_code_name(filename) if shell is not None else None
    return named[1] if named else None


def _describe_frame(tb) -> str:
    """``MyBAM.forward, In[14] line 17: spatial = self.final(x).expand_as(x)``."""
    code, line = tb.tb_frame.f_code, tb.tb_lineno
    where = _cell_name(code.co_filename) or Path(code.co_filename).name
    text = linecache.getline(code.co_filename, line).strip()
    return f"{code.co_qualname}, {where} line {line}: {text}"


def _stub_name(err: BaseException) -> str | None:
    """The qualified name of the unfinished stub that raised ``err``, or None.

    A stub of the student copy raises a bare ``NotImplementedError`` from the learner's code; a
    NotImplementedError that torch raises (with a message) is a real error, not a stub.
    """
    if not isinstance(err, NotImplementedError) or err.args:
        return None
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not _is_learners(tb.tb_frame.f_code.co_filename):
        return None
    code = tb.tb_frame.f_code
    cell = _cell_name(code.co_filename)
    return f"{code.co_qualname}" + (f" (cell {cell})" if cell else "")


def raise_if_unfinished(err: BaseException) -> None:
    """Raise ``NotWrittenYet`` if ``err`` comes from an unfinished stub: the same words for every
    check, naming the function the learner still has to write."""
    stub = _stub_name(err)
    if stub is not None:
        raise NotWrittenYet(
            f"{stub} is not written yet: fill in the body marked # YOUR CODE HERE, run that "
            "cell, then run this check again."
        ) from None


def _ipython():
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def _explain_unfinished_cell(shell, etype, value, tb, tb_offset=None) -> None:
    """IPython handler for a NotImplementedError in a cell: one line naming the exercise it waits
    for when a stub raised it, the usual traceback otherwise."""
    stub = _stub_name(value)
    if stub is not None:
        message = (
            f"{stub} is not written yet, and this cell uses it: finish that exercise (the body "
            "marked # YOUR CODE HERE), run its cell and its check, then run this cell again."
        )
        value._render_traceback_ = lambda: [f"\x1b[1;31mNotImplementedError\x1b[0m: {message}"]
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _install_notebook_handler() -> None:
    """In a notebook, report unfinished exercises in one line (see ``_explain_unfinished_cell``).

    Importing the checks is what a lesson does before its exercises, so the handler comes with
    them. It is not installed over another custom handler.
    """
    shell = _ipython()
    if shell is not None and shell.custom_exceptions in ((), (NotImplementedError,)):
        shell.set_custom_exc((NotImplementedError,), _explain_unfinished_cell)


_install_notebook_handler()


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
        raise CheckFailed(
            f"{where}: the check compares Conv2d, Linear and BatchNorm layers, and yours uses "
            f"{_listing(unknown)}. Build the exercise from those layers."
        )
    unused = [m for m in learner.modules() if _holds_weights(m) and not any(m is o for o in order)]
    if unused:
        raise CheckFailed(
            f"{where}: these layers are built in __init__ but never run in forward: "
            f"{_listing(unused)}. Did you forget to call them?"
        )
    covered = {id(p) for m in order for p in m.parameters()}
    stray = [name for name, p in learner.named_parameters() if id(p) not in covered]
    if stray:
        raise CheckFailed(
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
            raise CheckFailed(f"{where}: your layers do not match the reference's: {cause}")
        more = "more" if mine > theirs else "fewer"
        raise CheckFailed(
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
        raise CheckFailed(
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


def _run(module: nn.Module, x: torch.Tensor, where: str, hint: str = "") -> torch.Tensor:
    try:
        with torch.no_grad():
            out = module(x.clone())
    except Exception as err:
        raise_if_unfinished(err)
        raise CheckFailed(
            f"{where} raised {type(err).__name__} on an input of shape {tuple(x.shape)}: {err}"
            + (f". {hint}" if hint else "")
        ) from err
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{where}: forward should return a tensor, got {type(out).__name__}")
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
        raise_if_unfinished(err)
        raise CheckFailed(
            f"could not build {where}: {type(err).__name__}: {err}. The check builds your class "
            f"as {exercise.signature}: give __init__ these arguments."
        ) from err
    if not isinstance(learner, nn.Module):
        raise CheckFailed(f"{cls.__name__} should subclass nn.Module")
    reference = exercise.reference(channels, **kwargs)
    _randomise_norms(reference, g)
    x = torch.randn(BATCH, channels, *size, generator=g) + torch.randn(
        BATCH, channels, 1, 1, generator=g
    )

    out = _run(learner.train(), x, where, exercise.error_hint)
    expected = exercise.expected_shape(tuple(x.shape))
    if tuple(out.shape) != expected:
        raise CheckFailed(
            f"{where}: wrong output shape for an input of shape {tuple(x.shape)}: expected "
            f"{expected}, got {tuple(out.shape)}. {exercise.shape_hint(expected, tuple(out.shape))}"
        )

    hidden = hidden_width(channels, kwargs.get("reduction", 16))
    alignment = _line_up(_reference_orders(exercise, reference, x), learner, x, where, hidden)
    alignment.copy_weights()
    dead = parameters_without_gradient(learner.eval(), x)
    if dead:
        raise CheckFailed(
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
            raise CheckFailed(
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
            "F * (1 + M(F)): a gate can then scale a feature by 1 to 2 but never erase it, and "
            "the gradient keeps a path through the 1.",
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
            raise_if_unfinished(err)
            raise CheckFailed(
                f"could not build {where}: {type(err).__name__}: {err}. The check builds your "
                "class as MySqueezeExcite(channels, reduction=16)."
            ) from err
        if not isinstance(learner, nn.Module):
            raise CheckFailed(f"{cls.__name__} should subclass nn.Module")
        reference = SqueezeExcite(channels, reduction)
        with torch.no_grad():
            for p in reference.parameters():
                p.normal_(0.0, 0.5, generator=generator)
        x = torch.randn(BATCH, channels, *size, generator=generator)
        out = _run(learner, x, where)
        if out.shape != x.shape:
            raise CheckFailed(
                f"{where}: the output must have the input's shape {tuple(x.shape)}, got "
                f"{tuple(out.shape)}; reshape the gate to (B, C, 1, 1) so it broadcasts."
            )
        hidden = hidden_width(channels, reduction)
        mine, theirs = (sum(p.numel() for p in m.parameters()) for m in (learner, reference))
        if mine != theirs:
            raise CheckFailed(
                f"{where}: {mine} parameters, expected 2 * C * C/r + C/r + C = {theirs} "
                f"(C = {channels}, C/r = {hidden}): two layers, both with biases."
            )
        layers = execution_order(learner, x)
        sizes = [_size(m) for m in layers]
        if not all(isinstance(m, WEIGHTED) for m in layers) or sizes != [
            (hidden, channels, 1, 1),
            (channels, hidden, 1, 1),
        ]:
            raise CheckFailed(
                f"{where}: expected two layers, Conv2d/Linear {channels} -> {hidden} then "
                f"{hidden} -> {channels}; yours run {_listing(layers)}"
            )
        with torch.no_grad():
            for ref, layer in zip((reference.fc1, reference.fc2), layers, strict=True):
                layer.weight.copy_(ref.weight.reshape(layer.weight.shape))
                if layer.bias is None:
                    raise CheckFailed(f"{where}: {describe(layer)} needs a bias (SE has b1, b2)")
                layer.bias.copy_(ref.bias)
        dead = parameters_without_gradient(learner, x)
        if dead:
            raise CheckFailed(f"{where}: these parameters get no gradient: {', '.join(dead)}")
        mine_out, expected = _run(learner, x, where), _run(reference, x, "the reference")
        if not _close(mine_out, expected):
            with torch.no_grad():
                squeezed = x.mean((2, 3), keepdim=True)
                gate = reference.gate(reference.fc2(reference.relu(reference.fc1(squeezed))))
            raise CheckFailed(
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
        except Exception as err:
            raise_if_unfinished(err)
            raise CheckFailed(f"{name}: your function raised {type(err).__name__}: {err}") from err
        if not isinstance(mine, nn.Module):
            raise CheckFailed(f"{name}: your function returned {mine!r}; return the model")
        mine.eval()
        theirs, expected = _bam_inputs(reference, x)
        yours, got = _bam_inputs(mine, x)
        if len(yours) != len(theirs):
            raise CheckFailed(
                f"{name}: {len(yours)} BAM modules ran, expected {len(theirs)}: one after every "
                "stage but the last (layer1, layer2, ...), none after the last stage"
            )
        if got != expected:
            raise CheckFailed(
                f"{name}: your BAMs see feature maps of shape (C, H, W) {got}, expected "
                f"{expected}: each BAM refines the output of a stage, before the next stage "
                "halves the resolution"
            )
        for mine_bam, reference_bam in zip(yours, theirs, strict=True):
            mine_bam.load_state_dict(reference_bam.state_dict())
        with torch.no_grad():
            if not _close(mine(x), reference(x)):
                raise CheckFailed(
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
            raise_if_unfinished(err)
            raise CheckFailed(f"{where}: {type(err).__name__}: {err}") from err
        if not isinstance(out, torch.Tensor) or out.shape != images.shape:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise CheckFailed(
                f"{where}: expected the input's shape {tuple(images.shape)}, got {shape}"
            )
        expected = crop_flip(images, top, left, torch.zeros(b, dtype=torch.bool), padding)
        if torch.equal(out, expected):
            continue
        if torch.equal(
            out, crop_flip(images, left, top, torch.zeros(b, dtype=torch.bool), padding)
        ):
            raise CheckFailed(f"{where}: top and left are swapped: top moves rows (dim 2)")
        if out.dtype != images.dtype:
            raise CheckFailed(f"{where}: keep the dtype ({images.dtype}), got {out.dtype}")
        wrong = int((out != expected).flatten(1).any(1).nonzero()[0])
        t, left_i = int(top[wrong]), int(left[wrong])
        raise CheckFailed(
            f"{where}: image {wrong} differs: expected rows {t}...{t + h - 1} and columns "
            f"{left_i}...{left_i + w - 1} of the image padded with zeros on every side"
        )
    print("check_crop: ok (square and non-square images, two paddings)")


# ---------------------------------------------------------------- grading a test, lesson 04
#
# check_bug_test(test, bug=N, buggy=...) grades a test the learner wrote for bug N of the bug
# hunt by mutation: the test runs on modules that are right (the reference and versions written
# differently) and on modules that have the bug (the lesson's, and versions of the same bug that
# the lesson never shows). A good test passes on every right one and fails on every buggy one.
# The versions below are correct in every respect but the one their docstring names, so that a
# test written for one bug cannot pass or fail for an unrelated reason.


def _advise_batch_of_one(module: nn.Module, x: torch.Tensor) -> None:
    if module.training and x.shape[0] == 1:
        raise ValueError(
            "one image in training mode: BatchNorm after pooling has a single value per "
            "channel and no variance. Train on 2 or more images, or call .eval() for inference."
        )


class _LinearChannel(nn.Module):
    """Right: Linear layers with biases and BatchNorm1d, attributes registered out of order."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.norm_out = nn.BatchNorm1d(channels)
        self.squeeze = nn.Linear(channels, hidden)
        self.norm_hidden = nn.BatchNorm1d(hidden)
        self.excite = nn.Linear(hidden, channels)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))

    def logits(self, pooled: torch.Tensor) -> torch.Tensor:
        hidden = F.relu(self.norm_hidden(self.squeeze(pooled)))
        return self.norm_out(self.excite(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _advise_batch_of_one(self, x)
        return self.logits(self.pool(x))[:, :, None, None]


class _SequentialChannel(nn.Module):
    """Right: one nn.Sequential that pools itself, biases before BatchNorm, hidden width
    ceil(C / r) floored at 2 (another width than the reference's)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(2, -(-channels // reduction))
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
            nn.BatchNorm2d(channels),
        )

    def refuse_batch_of_one(self, x: torch.Tensor) -> None:
        if self.training and x.shape[0] < 2:
            raise ValueError(
                "BatchNorm needs two or more images per batch in training mode; for a single "
                "image, switch the module to inference with .eval()"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.refuse_batch_of_one(x)
        return self.body(x)


class _SeparateSpatial(nn.Module):
    """Right: separate attributes and F.relu, by default a hidden width of 2 C // r (another
    width than the reference's); ``paddings`` gives the two dilated convolutions' padding for a
    dilation."""

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        dilation: int = 4,
        paddings: Callable[[int], tuple[int, int]] = lambda d: (d, d),
        widen: int = 2,
    ) -> None:
        super().__init__()
        hidden = widen * max(1, channels // reduction)
        first, second = paddings(dilation)
        self.reduce = nn.Conv2d(channels, hidden, 1, bias=False)
        self.reduce_norm = nn.BatchNorm2d(hidden)
        self.first = nn.Conv2d(hidden, hidden, 3, padding=first, dilation=dilation, bias=False)
        self.first_norm = nn.BatchNorm2d(hidden)
        self.second = nn.Conv2d(hidden, hidden, 3, padding=second, dilation=dilation, bias=False)
        self.second_norm = nn.BatchNorm2d(hidden)
        self.final = nn.Conv2d(hidden, 1, 1, bias=False)
        self.final_norm = nn.BatchNorm2d(1)

    def reduced(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.reduce_norm(self.reduce(x)))

    def dilated(self, y: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.first_norm(self.first(y)))
        return F.relu(self.second_norm(self.second(y)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_norm(self.final(self.dilated(self.reduced(x))))


class _SequentialSpatial(nn.Module):
    """Right: one nn.Sequential, biases before every BatchNorm, padding="same"."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)

        def dilated() -> list[nn.Module]:
            conv = nn.Conv2d(hidden, hidden, 3, padding="same", dilation=dilation)
            return [conv, nn.BatchNorm2d(hidden), nn.ReLU()]

        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            *dilated(),
            *dilated(),
            nn.Conv2d(hidden, 1, 1),
            nn.BatchNorm2d(1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _SumBAM(nn.Module):
    """Right: BAM from the branches above, ``F + F * sigmoid(Mc + Ms)`` written out."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        self.reduction = reduction
        self.channel = _LinearChannel(channels, reduction)
        self.spatial = _SeparateSpatial(channels, reduction, dilation, widen=1)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.channel(x) + self.spatial(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + x * self.attention(x)


class _ExpandBAM(nn.Module):
    """Right: both maps expanded to the input itself before the sum, ``F * (1 + M)``."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        self.channel = _SequentialChannel(channels, reduction)
        self.spatial = _SequentialSpatial(channels, reduction, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, s = self.channel(x).expand_as(x), self.spatial(x).expand_as(x)
        return x * (1 + torch.sigmoid(c + s))


# Bug 1: the dilated convolutions run, but nothing they compute reaches the output.


class _FinalReadsReduced(_SeparateSpatial):
    def forward(self, x):
        y = self.reduced(x)
        self.dilated(y)
        return self.final_norm(self.final(y))


class _SecondDilatedSkipped(_SeparateSpatial):
    def forward(self, x):
        y = F.relu(self.first_norm(self.first(self.reduced(x))))
        return self.final_norm(self.final(y))


class _DilatedWeighedZero(_SeparateSpatial):
    def forward(self, x):
        y = self.reduced(x)
        return self.final_norm(self.final(y + 0.0 * self.dilated(y)))


class _DilatedDetached(_SeparateSpatial):
    def forward(self, x):
        return self.final_norm(self.final(self.dilated(self.reduced(x)).detach()))


# Bug 2: the spatial map is given C / r channels (or r) where the input has C.


class _ExpandedLikeReduced(_SumBAM):
    def forward(self, x):
        f, spatial = x, self.spatial
        x = spatial.dilated(spatial.reduced(x))
        s = spatial.final_norm(spatial.final(x)).expand_as(x)
        return f * (1 + torch.sigmoid(self.channel(f) + s))


class _RepeatedToHidden(_SumBAM):
    def attention(self, x):
        s = self.spatial(x)
        return torch.sigmoid(self.channel(x) + s.repeat(1, self.spatial.reduce.out_channels, 1, 1))


class _ExpandedToReduction(_SumBAM):
    def attention(self, x):
        s = self.spatial(x).expand(-1, self.reduction, -1, -1)
        return torch.sigmoid(self.channel(x) + s)


class _HiddenWideSpatialMap(_SumBAM):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction, dilation)
        hidden = self.spatial.final.in_channels
        self.spatial.final = nn.Conv2d(hidden, hidden, 1, bias=False)
        self.spatial.final_norm = nn.BatchNorm2d(hidden)


# Bug 3: the branches meet otherwise than by the paper's sum.


class _ProductOfLogits(_SumBAM):
    def attention(self, x):
        return torch.sigmoid(self.channel(x) * self.spatial(x))


class _MaximumOfLogits(_SumBAM):
    def attention(self, x):
        return torch.sigmoid(torch.maximum(self.channel(x), self.spatial(x)))


class _ProductOfGates(_SumBAM):
    def attention(self, x):
        return torch.sigmoid(self.channel(x)) * torch.sigmoid(self.spatial(x))


class _MeanOfLogits(_SumBAM):
    def attention(self, x):
        return torch.sigmoid((self.channel(x) + self.spatial(x)) / 2)


# Bug 4: the pooling covers part of a non-square map.


class _PoolsOneColumn(_LinearChannel):
    def pool(self, x):
        return x[..., 0].mean(2)


class _PoolsOneRow(_LinearChannel):
    def pool(self, x):
        return x[:, :, 0].mean(2)


class _PoolsCentreSquare(_LinearChannel):
    def pool(self, x):
        h, w = x.shape[2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        return x[:, :, top : top + side, left : left + side].mean((2, 3))


class _PoolsWidthSquare(_SequentialChannel):
    def forward(self, x):
        self.refuse_batch_of_one(x)
        return self.body[1:](F.avg_pool2d(x, x.size(3)))


# Bug 5: no floor on the hidden width, which is 0 when C < r.


class _EmptyHiddenLayer(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = int(channels / reduction)
        self.squeeze, self.excite = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x):
        _advise_batch_of_one(self, x)
        out = self.norm(self.excite(F.relu(self.squeeze(x.mean((2, 3))))))
        return out[:, :, None, None]


class _ZeroWidthLinear(_LinearChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        hidden = int(channels / reduction)
        self.squeeze, self.excite = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.norm_hidden = nn.BatchNorm1d(hidden)


class _RoundedWidth(_SequentialChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        hidden = round(channels / reduction)
        self.body[1], self.body[2] = nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden)
        self.body[4] = nn.Conv2d(hidden, channels, 1)


class _FloorMissedInNorm(_LinearChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.norm_hidden = nn.BatchNorm1d(channels // reduction)


# Bug 6: one image in training mode, and an error that does not say what to do.


class _CrypticBatchOfOne(_SequentialChannel):
    def refuse_batch_of_one(self, x):
        pass  # BatchNorm's own error: "Expected more than 1 value per channel when training"


class _ReasonWithoutAdvice(_SequentialChannel):
    def refuse_batch_of_one(self, x):
        if self.training and x.shape[0] == 1:
            raise ValueError("batch of 1: BatchNorm needs more than one value per channel")


class _RefusesOneImageInEval(_SequentialChannel):
    def refuse_batch_of_one(self, x):
        if x.shape[0] == 1:
            raise ValueError("BatchNorm needs 2 or more images; call .eval() for inference")


class _QuietlyUsesRunningStats(_LinearChannel):
    def forward(self, x):
        if not (self.training and x.shape[0] == 1):
            return super().forward(x)
        self.eval()
        try:
            return super().forward(x)
        finally:
            self.train()


# Bug 7: the channel logits come out on an arbitrary scale.


class _NoFinalNorm(_LinearChannel):
    def logits(self, pooled):
        return self.excite(F.relu(self.norm_hidden(self.squeeze(pooled))))


class _NormBeforeLastLayer(_LinearChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.norm_out = nn.BatchNorm1d(self.squeeze.out_features)

    def logits(self, pooled):
        hidden = F.relu(self.norm_hidden(self.squeeze(pooled)))
        return self.excite(self.norm_out(hidden))


class _FixedRescale(_LinearChannel):
    def logits(self, pooled):
        hidden = F.relu(self.norm_hidden(self.squeeze(pooled)))
        return self.excite(hidden) / self.excite.in_features**0.5


# Bug 8: the dilated convolutions do not pad by the dilation.


def _padding_one(_dilation: int) -> tuple[int, int]:
    return 1, 1


def _padding_four(_dilation: int) -> tuple[int, int]:
    return 4, 4


def _second_padding_one(dilation: int) -> tuple[int, int]:
    return dilation, 1


def _half_padding(dilation: int) -> tuple[int, int]:
    return dilation // 2, dilation // 2


def _padded(paddings: Callable[[int], tuple[int, int]]) -> Callable[..., nn.Module]:
    def build(channels: int, reduction: int = 16, dilation: int = 4) -> nn.Module:
        return _SeparateSpatial(channels, reduction, dilation, paddings)

    return build


# Bug 9: F + F * sigmoid(Mc + Ms), with more full-size tensors than broadcasting needs.


def _combine_broadcast(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc + ms))


def _combine_views(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc.expand_as(f) + ms.expand_as(f)))


def _combine_in_place(f, mc, ms):
    return torch.sigmoid(mc + ms).mul_(f).add_(f)


def _combine_sigmoid_in_place(f, mc, ms):
    return f.addcmul(f, (mc + ms).sigmoid_())


def _combine_cloned(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc.expand_as(f).clone() + ms.expand_as(f).clone()))


def _combine_repeated(f, mc, ms):
    h, w = f.shape[2:]
    return torch.addcmul(f, f, torch.sigmoid(mc.repeat(1, 1, h, w) + ms.repeat(1, f.size(1), 1, 1)))


def _combine_one_materialised(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc.expand_as(f).contiguous() + ms))


def _combine_from_zeros(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(torch.zeros_like(f) + mc + ms))


@dataclass(frozen=True)
class _Version:
    build: Callable
    what: str  # right: how it is written; buggy: what is wrong with it, "a ... whose ..."
    misses: str = ""  # buggy: what a test that passes on it does not notice


@dataclass(frozen=True)
class _Bug:
    title: str
    noun: str  # what the test receives, to build or to call
    reference: _Version
    right: tuple[_Version, ...]
    buggy: tuple[_Version, ...]
    lesson_misses: str  # what a test that passes on the lesson's module does not notice


_CHANNEL_RIGHT = (
    _Version(_LinearChannel, "Linear layers with biases and BatchNorm1d"),
    _Version(_SequentialChannel, "one nn.Sequential with another hidden width"),
)
_SPATIAL_RIGHT = (
    _Version(_SeparateSpatial, "separate attributes and another hidden width"),
    _Version(_SequentialSpatial, 'one nn.Sequential, biases before BatchNorm, padding="same"'),
)
_BAM_RIGHT = (
    _Version(_SumBAM, "branches of Linear and separate layers, F + F * M written out"),
    _Version(_ExpandBAM, "both maps expanded to the input, F * (1 + M)"),
)
_DEAD = "it does not notice parameters that get no gradient"
_SHAPE = "it does not check the output's shape over configurations where C / r is not 1 or C"
_SUM = "it does not compare the output with the paper's sum, sigmoid(Mc + Ms)"
_POOL = "it does not check that every pixel of a non-square map counts the same"
_EDGE = "build the module with fewer channels than the reduction and use it, gradients included"

BUGS: dict[int, _Bug] = {
    1: _Bug(
        "dead dilated convolutions",
        "spatial branch",
        _Version(SpatialGate, "bam.SpatialGate"),
        _SPATIAL_RIGHT,
        (
            _Version(
                _FinalReadsReduced,
                "a spatial branch whose final convolution reads the reduced tensor",
                _DEAD,
            ),
            _Version(
                _SecondDilatedSkipped,
                "a spatial branch that skips its second dilated convolution",
                _DEAD,
            ),
            _Version(
                _DilatedWeighedZero,
                "a spatial branch that adds its dilated convolutions' output with weight 0",
                _DEAD,
            ),
            _Version(
                _DilatedDetached,
                "a spatial branch whose dilated convolutions are detached "
                "from the gradient (its outputs are right)",
                _DEAD,
            ),
        ),
        "its shapes, parameter count and outputs look fine; what never reaches the output?",
    ),
    2: _Bug(
        "expand_as after the name was rebound",
        "BAM module",
        _Version(BAM, "bam.BAM"),
        _BAM_RIGHT,
        (
            _Version(
                _ExpandedLikeReduced,
                "a BAM whose spatial map is expanded to the reduced tensor's C / r channels",
                _SHAPE,
            ),
            _Version(
                _RepeatedToHidden, "a BAM whose spatial map is repeated to C / r channels", _SHAPE
            ),
            _Version(
                _ExpandedToReduction,
                "a BAM whose spatial map is expanded to r channels instead of C",
                "it does not try a configuration where r is not C",
            ),
            _Version(
                _HiddenWideSpatialMap,
                "a BAM whose spatial branch ends with C / r maps instead of one",
                _SHAPE,
            ),
        ),
        "with C = r the wrong expansion has one channel and broadcasting hides it",
    ),
    3: _Bug(
        "product instead of sum",
        "BAM module",
        _Version(BAM, "bam.BAM"),
        _BAM_RIGHT,
        (
            _Version(_ProductOfLogits, "a BAM that multiplies the branches' logits", _SUM),
            _Version(
                _MaximumOfLogits, "a BAM that takes the maximum of the branches' logits", _SUM
            ),
            _Version(
                _ProductOfGates,
                "a BAM that multiplies two sigmoids, sigmoid(Mc) * sigmoid(Ms)",
                _SUM,
            ),
            _Version(_MeanOfLogits, "a BAM that averages the logits before the sigmoid", _SUM),
        ),
        "its shapes are right and its output is F scaled by 1 to 2; compare it with the paper's "
        "equation",
    ),
    4: _Bug(
        "the square-input assumption",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _PoolsOneColumn, "a channel branch that averages one column (over H only)", _POOL
            ),
            _Version(_PoolsOneRow, "a channel branch that averages one row (over W only)", _POOL),
            _Version(
                _PoolsCentreSquare,
                "a channel branch that averages the centre square of the map",
                _POOL,
            ),
            _Version(
                _PoolsWidthSquare, "a channel branch that pools a square window of side W", _POOL
            ),
        ),
        "on a square map the bug cannot show; try maps wider and taller than they are high",
    ),
    5: _Bug(
        "a hidden width of zero",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _EmptyHiddenLayer,
                "a channel branch whose hidden layer has no units (it runs, with the right shape)",
                "it does not check that the parameters learn",
            ),
            _Version(
                _ZeroWidthLinear,
                "a channel branch of Linear layers with int(C / r) hidden units",
                _EDGE,
            ),
            _Version(_RoundedWidth, "a channel branch with round(C / r) hidden units", _EDGE),
            _Version(
                _FloorMissedInNorm,
                "a channel branch whose hidden BatchNorm misses the floor on the width",
                _EDGE,
            ),
        ),
        "it builds (with a warning) and works whenever C >= r; " + _EDGE,
    ),
    6: _Bug(
        "BatchNorm on a batch of one",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _CrypticBatchOfOne,
                "a channel branch that fails on one image with BatchNorm's own ValueError",
                "it does not check what the error says to do",
            ),
            _Version(
                _ReasonWithoutAdvice,
                "a channel branch whose error on one image gives the reason but no advice",
                "it does not check that the error mentions eval()",
            ),
            _Version(
                _RefusesOneImageInEval,
                "a channel branch that refuses one image in eval mode too",
                "it does not check that inference on one image works",
            ),
            _Version(
                _QuietlyUsesRunningStats,
                "a channel branch that quietly switches to its "
                "running statistics on one image in training mode",
                "it does not check that training on one image fails",
            ),
        ),
        "it does fail on one image in training mode, with a ValueError; read what that error "
        "tells the user to do",
    ),
    7: _Bug(
        "no final BatchNorm",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _NoFinalNorm,
                "a channel branch of Linear layers that ends with no BatchNorm",
                "it does not check the scale of the logits",
            ),
            _Version(
                _NormBeforeLastLayer,
                "a channel branch whose last BatchNorm comes before its last layer",
                "it does not check the scale of the logits",
            ),
            _Version(
                _FixedRescale,
                "a channel branch that divides its logits by a constant "
                "instead of normalising them",
                "it does not check the scale of the logits",
            ),
        ),
        "it has BatchNorm layers, only not at the end; test what the final one is for",
    ),
    8: _Bug(
        "padding that does not equal the dilation",
        "spatial branch",
        _Version(SpatialGate, "bam.SpatialGate"),
        _SPATIAL_RIGHT,
        (
            _Version(
                _padded(_padding_four),
                "a spatial branch that pads by 4, right for the default dilation only",
                "it does not try dilations other than 4",
            ),
            _Version(
                _padded(_second_padding_one),
                "a spatial branch whose second dilated convolution pads by 1",
                "it does not try a dilation above 1",
            ),
            _Version(
                _padded(_half_padding),
                "a spatial branch that pads by half the dilation",
                "it does not check that H x W is kept",
            ),
            _Version(
                _padded(_padding_one),
                "a spatial branch of separate layers that pads by 1",
                "it does not try a dilation above 1",
            ),
        ),
        "with dilation 1 a padding of 1 is right; the bug shows for other dilations",
    ),
    9: _Bug(
        "expanding, then materialising",
        "combine function",
        _Version(_combine_broadcast, "the broadcasting form"),
        (
            _Version(_combine_views, "expanded views"),
            _Version(_combine_in_place, "in-place multiply and add"),
            _Version(_combine_sigmoid_in_place, "an in-place sigmoid"),
        ),
        (
            _Version(
                _combine_cloned,
                "a combine function that clones the expanded views",
                "it does not count the memory the function allocates",
            ),
            _Version(
                _combine_repeated,
                "a combine function that repeats both maps to C x H x W",
                "it does not count the memory the function allocates",
            ),
            _Version(
                _combine_one_materialised,
                "a combine function that materialises only the channel map",
                "its memory budget is too loose",
            ),
            _Version(
                _combine_from_zeros,
                "a combine function that builds the attention on a tensor of zeros",
                "its memory budget is too loose",
            ),
        ),
        "its output is right: what does it cost?",
    ),
}


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _sentence(text: str) -> str:
    return text if text.endswith(("?", ".")) else text + "."


def _run_test(test: Callable, candidate: Callable) -> Exception | None:
    """The error ``test(candidate)`` raises, or None if it passes; each run starts from seed 0,
    so every candidate meets the same random inputs, and the test's prints are kept quiet."""
    import contextlib
    import io
    import warnings

    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-width layers warn when they are built
        torch.manual_seed(0)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                test(candidate)
        except Exception as err:
            return err
    return None


def check_bug_test(test: Callable, bug: int, buggy: Callable) -> None:
    """Grade ``test`` by mutation: the test the learner wrote for bug ``bug`` of lesson 04.

    ``test(candidate)`` takes what the bug's exercise names (a class to build, or for bug 9 a
    function to call) and fails by raising. It must pass on the ``bam`` reference and on right
    versions written differently (so that it tests behaviour, not one way of writing it), and
    fail on ``buggy``, the lesson's module, and on versions of the same bug that the lesson never
    shows. Prints one line when it does; otherwise raises ``CheckFailed`` saying what it misses.
    """
    if bug not in BUGS:
        raise ValueError(f"bug must be one of {sorted(BUGS)} (the lesson's nine), got {bug!r}")
    if not callable(test):
        raise TypeError(
            "check_bug_test takes your test function itself: check_bug_test(test_x, ...)"
        )
    spec = BUGS[bug]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster, and steady on a busy machine
    try:
        _grade(test, spec, buggy)
    finally:
        torch.set_num_threads(threads)
    print(
        f"check_bug_test, bug {bug} ({spec.title}): your test fails on the lesson's "
        f"{getattr(buggy, '__name__', 'module')} and {len(spec.buggy)} other versions of the "
        f"bug, and passes on {spec.reference.what} and {len(spec.right)} right versions written "
        "differently"
    )


def _grade(test: Callable, spec: _Bug, buggy: Callable) -> None:
    err = _run_test(test, spec.reference.build)
    if err is not None:
        raise_if_unfinished(err)
        if isinstance(err, AssertionError):
            raise CheckFailed(
                f"your test fails on {spec.reference.what}, which is right ({_one_line(err)}): a "
                "test must pass on correct code."
            ) from err
        raise CheckFailed(
            f"your test crashes on {spec.reference.what}, which is right ({_one_line(err)}): a "
            "test that crashes on correct code is wrong; fix the test."
        ) from err
    if _run_test(test, buggy) is None:
        raise CheckFailed(
            f"your test passes on the lesson's {getattr(buggy, '__name__', 'buggy module')}, "
            f"the bug it is written for: {_sentence(spec.lesson_misses)}"
        )
    for right in spec.right:
        err = _run_test(test, right.build)
        if err is not None:
            raise CheckFailed(
                f"your test fails on a right {spec.noun} written differently ({right.what}; "
                f"{_one_line(err)}): it pins one way of writing the {spec.noun}. Test what "
                f"every correct {spec.noun} does, not how it is built."
            ) from err
    for version in spec.buggy:
        if _run_test(test, version.build) is None:
            raise CheckFailed(f"your test passes on {version.what}: {_sentence(version.misses)}")
