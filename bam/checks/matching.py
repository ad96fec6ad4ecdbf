"""The engine of the exercise checks: a learner's layer against a ``bam`` reference, by behaviour.

An ``Exercise`` describes what is checked and the hints that explain a failure. ``run_exercise``
builds the learner's class with the reference's arguments in several configurations (non-square
inputs included) and checks, for each one: the output shape, the parameter count, that every
parameter gets a gradient, and the outputs (in training and in eval mode, or in the modes the
exercise names) with the reference's weights copied into the learner's layers
(``bam.checks.alignment``). It prints one line on success and raises ``CheckFailed`` that says
what is wrong on failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from bam.checks.alignment import NORMS, execution_order, line_up
from bam.checks.instruments import parameters_without_gradient
from bam.checks.speaking import CheckFailed, raise_if_unfinished
from bam.layers.validation import hidden_width

RTOL, ATOL = 1e-4, 1e-5
BATCH = 4
CHECKED = ("shape", "parameters", "gradients")  # before the outputs, in every configuration


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same shape and values within the checks' tolerance."""
    return a.shape == b.shape and torch.allclose(a, b, rtol=RTOL, atol=ATOL)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: the checks' tensors are tiny, so one thread is faster, and
    steady on a machine that is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def _randomise_norms(module: nn.Module, generator: torch.Generator) -> None:
    """Move BatchNorm off its identity initialisation, so that copying it is really tested."""
    for m in module.modules():
        if isinstance(m, NORMS):
            m.weight.uniform_(0.5, 1.5, generator=generator)
            m.bias.normal_(0.0, 0.2, generator=generator)
            m.running_mean.normal_(0.0, 0.2, generator=generator)
            m.running_var.uniform_(0.5, 1.5, generator=generator)


def run_module(module: nn.Module, x: torch.Tensor, where: str, hint: str = "") -> torch.Tensor:
    """``module(x)`` without gradients; an error, or a result that is not a tensor, fails."""
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


def _affine_hint(mine: int, extra: int, theirs: int, channels: int, hidden: int) -> str:
    return (
        f"{mine} parameters (less {extra} redundant biases) where the reference has {theirs}: "
        "are your BatchNorm layers affine (the default)?"
    )


@dataclass(frozen=True)
class Exercise:
    """What a check compares and how it explains a failure.

    ``output_hint(learner, reference, x, mine, theirs, kwargs)`` explains outputs that differ;
    ``parameters_hint(mine, extra, theirs, channels, hidden)`` a parameter count that differs
    once the layers line up (``extra``: the learner's redundant biases before a BatchNorm).
    """

    name: str
    reference: Callable[..., nn.Module]
    signature: str
    shape_hint: Callable[[tuple[int, ...], tuple[int, ...]], str]
    output_hint: Callable[..., str]
    dead_hint: str
    # The output's shape from the input's: a module that refines F (BAM, SE) keeps it.
    expected_shape: Callable[[tuple[int, ...]], tuple[int, ...]] = lambda shape: shape
    error_hint: str = ""
    branches_first: tuple[str, ...] = ()  # alternative orders: these submodules run first
    parameters_hint: Callable[[int, int, int, int, int], str] = _affine_hint
    modes: tuple[str, ...] = ("train", "eval")  # one is enough without BatchNorm or dropout

    @property
    def aspects(self) -> tuple[str, ...]:
        """What is checked in each configuration, as the success line names it."""
        if len(self.modes) == 1:
            return (*CHECKED, "outputs")
        return (*CHECKED, *(f"{mode}-mode outputs" for mode in self.modes))


def _reference_orders(exercise: Exercise, reference: nn.Module, x: torch.Tensor):
    orders = [execution_order(reference, x)]
    if exercise.branches_first:
        names = exercise.branches_first
        orders.append([m for n in names for m in execution_order(getattr(reference, n), x)])
    return orders


def _check_one(exercise: Exercise, cls: type, channels: int, kwargs: dict, size, g) -> set[str]:
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

    out = run_module(learner.train(), x, where, exercise.error_hint)
    expected = exercise.expected_shape(tuple(x.shape))
    if tuple(out.shape) != expected:
        raise CheckFailed(
            f"{where}: wrong output shape for an input of shape {tuple(x.shape)}: expected "
            f"{expected}, got {tuple(out.shape)}. {exercise.shape_hint(expected, tuple(out.shape))}"
        )

    hidden = hidden_width(channels, kwargs.get("reduction", 16))

    def parameters_hint(mine: int, extra: int, theirs: int) -> str:
        return exercise.parameters_hint(mine, extra, theirs, channels, hidden)

    orders = _reference_orders(exercise, reference, x)
    alignment = line_up(orders, learner, x, where, hidden, parameters_hint)
    alignment.copy_weights()
    dead = parameters_without_gradient(learner.eval(), x)
    if dead:
        raise CheckFailed(
            f"{where}: these parameters get no gradient: {', '.join(dead)}. Their layers run, "
            f"but their output never reaches the result. {exercise.dead_hint}"
        )

    for mode in exercise.modes:
        alignment.copy_weights()
        theirs = run_module(reference.train(mode == "train"), x, "the reference")
        mine = run_module(learner.train(mode == "train"), x, where)
        if not close(mine, theirs):
            difference = (mine - theirs).abs().max().item()
            hint = exercise.output_hint(learner, reference, x, mine, theirs, kwargs)
            raise CheckFailed(
                f"{where}, {mode} mode: with the reference's weights copied into your layers, "
                f"the outputs differ by up to {difference:.3g} (max abs difference). {hint}"
            )
    return alignment.notes


def run_exercise(
    exercise: Exercise, cls: type, configs: list[tuple[int, dict, tuple[int, int]]]
) -> None:
    """Check the learner's class ``cls`` in each configuration ``(channels, kwargs, (H, W))``;
    print one line and any notes when all pass."""
    if not isinstance(cls, type):
        raise TypeError(
            f"{exercise.name} takes your class itself, not an instance: "
            f"{exercise.name}({type(cls).__name__}), not {exercise.name}({type(cls).__name__}(...))"
        )
    notes: set[str] = set()
    with one_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        generator = torch.Generator().manual_seed(0)
        for channels, kwargs, size in configs:
            notes |= _check_one(exercise, cls, channels, kwargs, size, generator)
    count = len(exercise.aspects) * len(configs)
    details = f"{len(configs)} configurations x {', '.join(exercise.aspects)}"
    print(f"{exercise.name}: all {count} checks passed ({details})")
    for note in sorted(notes):
        print(f"note: {note}")
