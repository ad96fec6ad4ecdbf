"""A model that stops training as a user would, for the tests of resuming."""

from torch import nn


class Interruptible(nn.Module):
    """A model that raises KeyboardInterrupt on its ``interrupt_at``-th forward call, as if the
    user pressed stop (or the process was killed) mid-epoch."""

    def __init__(self, inner: nn.Module, interrupt_at: int | None = None) -> None:
        super().__init__()
        self.inner, self.interrupt_at, self.calls = inner, interrupt_at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return self.inner(x)
