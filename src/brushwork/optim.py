"""The generic optimisation loop: L-BFGS or Adam on any tensor (pixels, a spectrogram), early
stopping on the best loss, a return to the best iterate when a run diverges, progress events after
every step and a cancel check before every step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from brushwork.config import PATIENCE, SPIKE, SPIKE_STEPS
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


def converged(best: Sequence[float], tolerance: float) -> bool:
    """True when the best total loss so far fell by less than ``tolerance`` (a fraction) over the
    last PATIENCE steps.

    ``best`` holds the best total after each step, so it never rises: a spike of L-BFGS (which steps
    without a line search) cannot pass for convergence, as a rise of the raw loss did (issue 15).
    """
    if tolerance <= 0 or len(best) <= PATIENCE:
        return False
    return best[-PATIENCE - 1] - best[-1] < tolerance * abs(best[-1])


class BestIterate:
    """The lowest-loss iterate seen so far, and the rule that undoes a divergence.

    L-BFGS with one evaluation per step and no line search (the classic implementation's choice, for
    its speed) sometimes overshoots: the loss jumps by tens of percent in one step. Usually the next
    steps recover (its first steps do so all the time), so a single spike is let be; but when the
    loss stays more than SPIKE above the best for SPIKE_STEPS evaluations in a row, the run is
    diverging, and the caller puts the best iterate back and clears the optimiser's history.
    """

    def __init__(self, start: torch.Tensor) -> None:
        self.image = start.detach().clone()
        self.loss = float("inf")
        self.history: list[float] = []  # the best loss after each evaluation
        self.above = 0  # consecutive evaluations more than SPIKE above the best

    def offer(self, image: torch.Tensor, loss: float) -> None:
        """Record ``image`` evaluated at ``loss``."""
        if loss < self.loss:
            self.loss = loss
            self.image.copy_(image.detach())
        self.history.append(self.loss)
        self.above = self.above + 1 if loss > self.loss * (1 + SPIKE) else 0

    @property
    def diverging(self) -> bool:
        """True after SPIKE_STEPS evaluations in a row more than SPIKE above the best."""
        return self.above >= SPIKE_STEPS

    def restore(self, image: torch.Tensor) -> None:
        """Put the best iterate back into ``image`` and start counting spikes afresh."""
        image.copy_(self.image)
        self.above = 0


def optimise(objective: nn.Module, start: torch.Tensor, config: StyleConfig | AudioConfig,
             callbacks: Iterable[Callback] = (), *, iterations: int | None = None, done: int = 0,
             total: int | None = None, bounds: tuple[float, float] | None = (0.0, 1.0),
             tolerance: float = 0.0, cancel: CancelToken | None = None, task: str = "stylize",
             stage: str = "", clock: Clock | None = None, units: float = 1.0,
             size: int | None = None) -> torch.Tensor:
    """Run up to ``iterations`` (default ``config.iterations``) optimiser steps from ``start`` [1,3,H,W].

    ``objective(x)`` returns named scalar terms with their sum as "total" (an :class:`Objective`, or
    the audio objective on a spectrogram [C,F,T]). Stops early once the best loss has converged to
    ``tolerance`` (see ``converged``; 0 runs every step). A run that diverges goes back to its best
    iterate (see ``BestIterate``). Returns the best iterate evaluated, clamped to ``bounds`` (default
    [0,1]: pixels; None: not clamped) like every iterate. ``done`` and ``total`` place these steps
    within a longer run (several scales or chunks) for the events that callbacks receive (``task``,
    ``stage`` and ``size`` are copied into them; ``clock`` times the whole run, each step counting
    ``units`` of its work). Before each step a cancelled ``cancel`` raises
    :class:`~brushwork.progress.Cancelled` with the best iterate evaluated so far.
    """
    callbacks = list(callbacks)
    iterations = iterations or config.iterations
    total = total or done + iterations
    clock = clock or Clock(iterations * units)
    image = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    optimizer = _optimizer(image, config)
    best = BestIterate(image)
    last: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = objective(image)
        terms["total"].backward()
        last.update({name: term.detach() for name, term in terms.items()})
        best.offer(image, float(last["total"]))
        return terms["total"]

    for iteration in range(done + 1, done + iterations + 1):
        check_cancel(cancel, iteration - 1, best.image)
        optimizer.step(closure)  # evaluates the current iterate, then steps away from it
        with torch.no_grad():
            if best.diverging:  # back to the best iterate, with a fresh history
                best.restore(image)
                optimizer = _optimizer(image, config)
            elif bounds is not None:
                image.clamp_(*bounds)
        elapsed, eta = clock.advance(units)
        if callbacks:
            event = ProgressEvent(task, stage, iteration, total, {k: float(v) for k, v in last.items()}, elapsed,
                                  eta, size=size, render=image.detach)
            for callback in callbacks:
                callback(event)
        if converged(best.history, tolerance):
            break
    with torch.no_grad():  # the last step's result has not been evaluated yet
        best.offer(image, float(objective(image)["total"]))
    return best.image
