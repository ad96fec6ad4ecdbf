"""What a training run records per epoch: losses, accuracies, times, and the run's fingerprint."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bam.checkpoint import atomic_write


@dataclass
class History:
    """Per-epoch results of ``bam.train.fit``; accuracies are fractions in [0, 1], times in
    seconds.

    ``train_loss`` is the label-smoothed loss that was optimised, measured on the augmented
    batches in training mode; ``test_loss`` is the plain cross-entropy on the test set.
    ``config`` is the run's fingerprint (``bam.checkpoint.fingerprint``).
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)
    test_acc: list[float | None] = field(default_factory=list)
    train_time: list[float] = field(default_factory=list)
    eval_time: list[float] = field(default_factory=list)
    images_per_s: list[float] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def wall_time(self) -> float:
        """Seconds spent training and evaluating, over all epochs (and all resumed runs)."""
        return sum(self.train_time) + sum(self.eval_time)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (atomically: readers never see half a file)."""
        data = json.dumps(self.to_dict(), indent=1).encode()
        atomic_write(Path(path), lambda f: f.write(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        return cls(**json.loads(Path(path).read_text()))
