"""One progress event for every long task, and the cancel token that every long call takes.

A long call (``stylize``/``paint``, ``train_style_network``, ``stylize_files``, ``stylize_audio``,
``synthesize_texture``) calls each of its ``callbacks`` with a :class:`ProgressEvent` after every step
and checks its ``cancel`` token before every step; a cancelled call raises :class:`Cancelled`, which
carries what the work had reached. Callbacks run in the working thread: a front end that shows
progress elsewhere sends ``event.to_dict()`` (JSON-safe) across.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class ProgressEvent:
    """Where a long task stands after one step.

    ``task`` names the call ("stylize", "train", "apply", "audio", "texture"); ``stage`` the part of it
    ("scale 2/3", "epoch 4", "chunk 1/5", "images"). ``step`` counts from 1 to ``total`` over the whole
    task. ``losses`` holds each weighted term by name and their sum ("total"); ``elapsed`` and ``eta``
    (estimated time left; None before it can be judged) are seconds. ``size`` is the long side in px
    of the image being worked on, ``frame`` the index of the item (an image, a video frame) being
    worked on. ``checkpoint`` is a file written at this step (a training checkpoint, an output).
    ``scores`` holds independent quality scores taken at this step by name (train, at a checkpoint
    where the judge is available: ``heldout.HeldOut.scores``), None where none were taken.

    ``preview()`` returns a copy of the current result, made only when called and only during the
    callback: an image [1,3,H,W] in [0,1] (stylize, train's first validation photo), a log-magnitude
    spectrogram [C,F,T] (audio); None where the task has none.
    """

    task: str
    stage: str
    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    eta: float | None = None
    size: int | None = None
    frame: int | None = None
    checkpoint: str | None = None
    scores: dict[str, float] | None = None
    render: Callable[[], torch.Tensor] | None = field(default=None, repr=False, compare=False)

    def preview(self) -> torch.Tensor | None:
        """A detached CPU copy of the current result (see the class), or None."""
        return None if self.render is None else self.render().detach().cpu().clone()

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-safe values; ``"preview"`` says whether :meth:`preview` has something."""
        return {"task": self.task, "stage": self.stage, "step": self.step, "total": self.total,
                "losses": dict(self.losses), "elapsed": self.elapsed, "eta": self.eta, "size": self.size,
                "frame": self.frame, "checkpoint": self.checkpoint, "scores": self.scores,
                "preview": self.render is not None}


Callback = Callable[[ProgressEvent], None]


class Clock:
    """Elapsed time and an estimate of the time left, from units of work done out of ``total`` units.

    Units weigh steps by their cost (stylize counts pixels, so that a step at 512 px weighs four of
    one at 256 px); the estimate assumes the rest goes at the average pace so far.
    """

    def __init__(self, total: float) -> None:
        self.total, self.done = total, 0.0
        self.began = time.perf_counter()

    def advance(self, units: float = 1.0) -> tuple[float, float | None]:
        """Count ``units`` more as done; returns (elapsed s, estimated s left or None)."""
        self.done += units
        elapsed = time.perf_counter() - self.began
        eta = elapsed * max(0.0, self.total - self.done) / self.done if self.done > 0 else None
        return elapsed, eta


class Cancelled(Exception):
    """A long call stopped by its :class:`CancelToken`, with what it had reached.

    ``result`` is the last iterate or partial result (an image [1,3,H,W] in [0,1] from ``paint``, a PIL
    image from ``brushwork.stylize``, a spectrogram [C,F,T] from audio; None when nothing was done yet);
    ``checkpoint`` a file that holds the work (a training checkpoint to resume from); ``step`` the
    last step done.
    """

    def __init__(self, step: int = 0, result: Any = None, checkpoint: Path | None = None) -> None:
        super().__init__(f"cancelled after step {step}")
        self.step, self.result, self.checkpoint = step, result, checkpoint


class CancelToken:
    """A flag that any thread may raise to stop a long call within one step.

    >>> token = CancelToken()
    >>> token.cancel()   # from another thread, a signal handler, a web request
    >>> token.cancelled
    True
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop; it raises :class:`Cancelled` before its next step."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def check_cancel(token: CancelToken | None, step: int = 0, result: Any = None, checkpoint: Path | None = None
                 ) -> None:
    """Raise :class:`Cancelled` (with ``step``, ``result`` and ``checkpoint``) if ``token`` was cancelled."""
    if token is not None and token.cancelled:
        raise Cancelled(step, result, checkpoint)
