"""One training step of ``bam.train.fit``: forward, loss, backward and SGD's update.

``EagerStep`` runs it the usual way, one kernel launch after another. At 32x32 a ResNet-20's
kernels are so short that on a GPU the launches, not the arithmetic, set the pace: a step takes
as long at batch 256 as at 1024. ``CapturedStep`` records the whole step once as a CUDA graph
and replays it with a single launch per batch (``torch.cuda.CUDAGraph``). A graph replays fixed
memory, so the step reads its batch from fixed buffers, its learning rate from a tensor that the
schedule fills in place, and it updates the optimizer's own momentum buffers with SGD's fused
kernel. BatchNorm's running statistics are updated in place, as in eager mode.

A graph replays kernels, not Python: the model's ``forward``, its hooks and anything else
written in Python run once, at the capture. A model that needs its Python code at every step
(a hook that records, a counter, a branch on a value) trains with ``capture=False``.

On a CPU there is no graph to capture: ``CapturedStep`` runs the same step on the same buffers,
uncaptured, which is how the tests compare it with ``EagerStep``. Its first steps always run
that way (a capture needs the optimizer's state to exist and the libraries to be loaded), so a
run resumed from a checkpoint takes exactly the steps an uninterrupted one would.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.sgd import sgd

from bam.cli import error_line
from bam.runtime import Precision, autocast

# Steps run uncaptured before the capture: the first creates SGD's momentum buffers, the next
# ones let cuBLAS and cuDNN pick their kernels, as CUDA's graph documentation advises.
WARMUP_STEPS = 3


def capture_supported(device: torch.device, precision: Precision) -> bool:
    """Whether ``fit`` captures its step on ``device`` by default: on CUDA, unless the precision
    is float16 with gradient scaling (CUDA 7.x, e.g. a T4), whose skipped steps depend on a value
    read back from the GPU, which a graph cannot do."""
    return device.type == "cuda" and not precision.scaled


class EagerStep:
    """Forward, loss, backward and update of ``model`` on one batch, kernel by kernel; the
    summed loss and the correct predictions accumulate in ``totals`` on the device."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.SGD,
        scheduler,
        scaler: torch.amp.GradScaler,
        criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        precision: Precision,
        device: torch.device,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.scaler = scaler
        self.criterion = criterion
        self.precision = precision
        self.device = device
        self.totals = torch.zeros(2, device=device)  # summed loss, correct predictions

    def _autocast(self):
        return autocast(self.device, self.precision.dtype, cache=False)

    def _count(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.totals[0] += loss.detach().float() * len(y)
        self.totals[1] += (logits.argmax(1) == y).sum()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        with self._autocast():
            logits = self.model(x)
            loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self._count(loss, logits, y)


class CapturedStep(EagerStep):
    """The step on fixed buffers, captured as a CUDA graph after ``WARMUP_STEPS`` on CUDA (run
    uncaptured on a CPU). A batch of another shape, or a failed capture, runs uncaptured; a
    failed capture says why in one line."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.precision.scaled:
            raise ValueError(
                "the captured step cannot scale gradients (float16): use amp=False, bfloat16, "
                "or capture=False"
            )
        if len(self.optimizer.param_groups) != 1:
            raise ValueError("the captured step updates one parameter group")
        self.group = self.optimizer.param_groups[0]
        self.lr = torch.zeros((), device=self.device)
        self.x = self.y = None
        self.steps = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failure: str | None = None

    @property
    def mode(self) -> str:
        """How the step runs, in words."""
        if self.device.type != "cuda":
            return f"on fixed buffers, uncaptured (no CUDA graphs on {self.device.type})"
        if self.failure is not None:
            return f"uncaptured, after a failed capture ({self.failure})"
        return f"captured as a CUDA graph after {WARMUP_STEPS} uncaptured steps"

    def _update(self) -> None:
        """SGD with Nesterov momentum and weight decay, as ``optimizer.step()`` computes it, with
        the learning rate read from ``self.lr`` (a graph keeps a Python float as a constant)."""
        group, state = self.group, self.optimizer.state
        params = [p for p in group["params"] if p.grad is not None]
        buffers = [state[p].get("momentum_buffer") for p in params]
        sgd(
            params,
            [p.grad for p in params],
            buffers,
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            lr=self.lr,
            dampening=group["dampening"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
            has_sparse_grad=False,
            foreach=False,
            fused=True,
        )
        if group["momentum"]:
            for p, buffer in zip(params, buffers, strict=True):
                state[p]["momentum_buffer"] = buffer

    def _step(self) -> None:
        """The step on the buffers: what the graph records, and what runs uncaptured."""
        with self._autocast():
            logits = self.model(self.x)
            loss = self.criterion(logits, self.y)
        # A captured backward writes fresh gradients, so it needs them unset when it is recorded;
        # uncaptured, unset gradients stop them accumulating across steps.
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._update()
        self._count(loss, logits, self.y)

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        try:
            with torch.cuda.graph(graph):
                self._step()
        except Exception as error:  # any failure leaves the eager step, which always works
            self.failure = f"{type(error).__name__}: {error_line(error)}"
            print(
                f"the training step could not be captured as a CUDA graph ({self.failure}); "
                "it runs uncaptured"
            )
            self.optimizer.zero_grad(set_to_none=True)
            return
        self.graph = graph

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self.x is None:
            self.x = torch.empty_like(x)
            self.y = torch.empty_like(y)
        if x.shape != self.x.shape:  # another batch size: run it the usual way
            return super().__call__(x, y)
        self.x.copy_(x)
        self.y.copy_(y)
        self.lr.fill_(self.group["lr"])
        if self.graph is None and self.failure is None and self.device.type == "cuda":
            if self.steps >= WARMUP_STEPS:
                self._capture()
        if self.graph is not None:
            self.graph.replay()
        elif self.device.type == "cuda" and self.steps < WARMUP_STEPS:
            # CUDA's graph documentation warms up on a side stream before capturing.
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                self._step()
            torch.cuda.current_stream(self.device).wait_stream(side)
        else:
            self._step()
        with warnings.catch_warnings():
            # The update ran through SGD's function, not optimizer.step(), whose call the
            # schedule watches for to warn about steps taken in the wrong order.
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler")
            self.scheduler.step()
        self.steps += 1


__all__ = ["WARMUP_STEPS", "CapturedStep", "EagerStep", "capture_supported"]
