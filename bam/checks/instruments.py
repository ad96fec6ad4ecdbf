"""Lesson 04's instruments: which parameters get no gradient, and how many bytes code allocates.

The bug hunt's tests use them, and the exercise checks use ``parameters_without_gradient`` too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten


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
