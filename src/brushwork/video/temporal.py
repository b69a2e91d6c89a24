"""Temporal consistency: the previous output carried into the current frame by optical flow, the
temporal loss of the optimisation path (Ruder, Dosovitskiy and Brox 2016) and the blending of the
fast path.

Images are tensors [1,3,H,W] in [0,1]; frames from the decoder are uint8 [H,W,3].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from brushwork.video.flow import FlowEstimator, FlowPreset, reliable, warp


@dataclass(frozen=True)
class Warped:
    """The previous output moved into the current frame: ``image`` [1,3,H,W] in [0,1] and ``mask``
    [1,1,H,W], 1 where the flow is reliable (see ``flow.reliable``), 0 where it is not."""

    image: torch.Tensor
    mask: torch.Tensor


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 [H,W,3] -> float32 [1,3,H,W] in [0,1]."""
    return torch.tensor(rgb).permute(2, 0, 1)[None].float().div(255)  # a copy: frames may be read-only


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[1,3,H,W] in [0,1] -> uint8 [H,W,3], rounded."""
    return (image[0].detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy().copy()


class FlowTracker:
    """Carries the previous output along the input's motion: flow both ways between the previous and
    the current input frame, the reliability mask, and the previous output warped."""

    def __init__(self, preset: FlowPreset) -> None:
        self.flow = FlowEstimator(preset)

    def __call__(self, previous_input: np.ndarray, current_input: np.ndarray, previous_output: np.ndarray
                 ) -> Warped:
        """Inputs and the previous output uint8 [H,W,3] of one size."""
        backward = self.flow(current_input, previous_input)
        forward = self.flow(previous_input, current_input)
        image = warp(previous_output.astype(np.float32) / 255, backward)
        mask = reliable(backward, forward)
        return Warped(torch.from_numpy(image).permute(2, 0, 1)[None].contiguous(),
                      torch.from_numpy(mask)[None, None])


class TemporalObjective(nn.Module):
    """An objective's terms plus the temporal loss of Ruder et al. (2016, eq. 5):
    weight · Σ c (x - ω)² / D, with ω the previous output warped into this frame, c its reliability
    mask and D the number of values (3HW): the output may change where the flow is not trusted
    (disocclusions, motion boundaries) but should follow the motion elsewhere."""

    def __init__(self, objective: nn.Module, warped: Warped, weight: float) -> None:
        super().__init__()
        self.objective, self.weight = objective, weight
        self.register_buffer("target", warped.image)
        self.register_buffer("mask", warped.mask)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = self.objective(image)
        temporal = self.weight * (self.mask * (image - self.target) ** 2).mean()
        terms["temporal"] = temporal
        terms["total"] = terms["total"] + temporal
        return terms


def warm_start(frame: torch.Tensor, warped: Warped) -> torch.Tensor:
    """The start of a later frame's optimisation (Ruder et al. 2016): the previous output warped,
    where the flow is reliable, and ``frame`` (the frame's own start image) where it is not (a
    disoccluded region's warped pixels are smeared from elsewhere)."""
    return warped.mask * warped.image + (1 - warped.mask) * frame


def blend(styled: torch.Tensor, warped: Warped, weight: float) -> torch.Tensor:
    """The fast path's stabilisation: ``styled`` [1,3,H,W] (this frame's network output) mixed with
    the previous output warped, ``weight`` of the latter on reliable pixels and none elsewhere. The
    previous output holds its own predecessors, so the mix is an exponential average along the motion
    (a weight w keeps each frame's flicker at about (1 - w) of its size)."""
    return styled + weight * warped.mask * (warped.image - styled)
