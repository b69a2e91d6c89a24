"""The generic optimisation loop: L-BFGS or Adam on any tensor (pixels, a spectrogram), early
stopping, progress events after every step and a cancel check before every step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from brushwork.config import PATIENCE
from brushwork.memory import lbfgs_history
from brushwork.progress import Callback, CancelToken, Clock, ProgressEvent, check_cancel

if TYPE_CHECKING:
    from brushwork.audio.config import AudioConfig
    from brushwork.config import StyleConfig


def _optimizer(image: torch.Tensor, config: StyleConfig | AudioConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([image], lr=config.learning_rate)
    # One function evaluation per step and no line search, as in the classic Torch implementation;
    # the history carries over between steps. Tolerances off: our own early stopping decides the end.
    return torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=lbfgs_history(image[0, 0].numel()),
                             tolerance_grad=-1.0, tolerance_change=-1.0)


def converged(totals: Sequence[float], tolerance: float) -> bool:
    """True when the last total loss is less than ``tolerance`` (a fraction) below the one PATIENCE steps before."""
    if tolerance <= 0 or len(totals) <= PATIENCE:
        return False
    return totals[-PATIENCE - 1] - totals[-1] < tolerance * abs(totals[-1])


def optimise(objective: nn.Module, start: torch.Tensor, config: StyleConfig | AudioConfig,
             callbacks: Iterable[Callback] = (), *, iterations: int | None = None, done: int = 0,
             total: int | None = None, bounds: tuple[float, float] | None = (0.0, 1.0),
             tolerance: float = 0.0, cancel: CancelToken | None = None, task: str = "stylize",
             stage: str = "", clock: Clock | None = None, units: float = 1.0,
             size: int | None = None) -> torch.Tensor:
    """Run up to ``iterations`` (default ``config.iterations``) optimiser steps from ``start`` [1,3,H,W].

    ``objective(x)`` returns named scalar terms with their sum as "total" (an :class:`Objective`, or
    the audio objective on a spectrogram [C,F,T]). Stops early once the loss has converged to
    ``tolerance`` (see ``converged``; 0 runs every step). Returns the final iterate; it is clamped to
    ``bounds`` (default [0,1]: pixels; None: not clamped) after every step, so every iterate is
    valid. ``done`` and ``total`` place these steps within a longer run (several scales or chunks)
    for the events that callbacks receive (``task``, ``stage`` and ``size`` are copied into them;
    ``clock`` times the whole run, each step counting ``units`` of its work). Before each step a
    cancelled ``cancel`` raises :class:`~brushwork.progress.Cancelled` with the last iterate.
    """
    callbacks = list(callbacks)
    iterations = iterations or config.iterations
    total = total or done + iterations
    clock = clock or Clock(iterations * units)
    image = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    optimizer = _optimizer(image, config)
    last: dict[str, torch.Tensor] = {}
    totals: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = objective(image)
        terms["total"].backward()
        last.update({name: term.detach() for name, term in terms.items()})
        return terms["total"]

    for iteration in range(done + 1, done + iterations + 1):
        check_cancel(cancel, iteration - 1, image.detach())
        optimizer.step(closure)
        if bounds is not None:
            with torch.no_grad():
                image.clamp_(*bounds)
        totals.append(float(last["total"]))
        elapsed, eta = clock.advance(units)
        if callbacks:
            event = ProgressEvent(task, stage, iteration, total, {k: float(v) for k, v in last.items()}, elapsed,
                                  eta, size=size, render=image.detach)
            for callback in callbacks:
                callback(event)
        if converged(totals, tolerance):
            break
    return image.detach()
