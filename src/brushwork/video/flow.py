"""Optical flow (OpenCV's DIS, Kroeger et al. 2016), warping by it, and where it can be trusted.

A flow field is float32 [H,W,2]: for each pixel p of the first image, the displacement (dx, dy) in
pixels to where p is found in the second. Images here are uint8 RGB [H,W,3] (flow) or float32
[H,W,C] (warping).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

FlowPreset = Literal["ultrafast", "fast", "medium"]
_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


class FlowEstimator:
    """DIS optical flow between two frames at a preset (speed against accuracy)."""

    def __init__(self, preset: FlowPreset = "medium") -> None:
        self.dis = cv2.DISOpticalFlow_create(_PRESETS[preset])

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The flow [H,W,2] from ``first`` to ``second`` (uint8 RGB [H,W,3] of one size)."""
        grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in (first, second)]
        return self.dis.calc(grey[0], grey[1], None)


def _sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixel coordinates p + flow(p) as OpenCV remap's x and y maps."""
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` [H,W,C] float32 sampled (bilinearly) at p + flow(p) for every pixel p: with the flow
    from frame t to frame t-1, the frame t-1 image moved into frame t."""
    map_x, map_y = _sample_grid(flow)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape(image.shape)


def reliable(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Where the flow ``backward`` (frame t to t-1) can be trusted: float32 [H,W], 1 or 0.

    As Ruder, Dosovitskiy and Brox (2016) after Sundaram et al. (2010), a pixel is excluded where
    (1) the flows disagree: following ``backward`` and then ``forward`` (t-1 to t) does not come back,
    |w̃ + w|² > 0.01 (|w̃|² + |w|²) + 0.5, which marks disocclusions; (2) it lies on a motion boundary,
    |∇u|² + |∇v|² > 0.01 |w|² + 0.002; or (3) ``backward`` leads out of the picture.
    """
    height, width = backward.shape[:2]
    there = warp(forward, backward)  # w̃: the forward flow where each pixel came from
    roundtrip = ((there + backward) ** 2).sum(-1)
    lengths = (there ** 2).sum(-1) + (backward ** 2).sum(-1)
    consistent = roundtrip <= 0.01 * lengths + 0.5
    du_dy, du_dx = np.gradient(backward[..., 0])
    dv_dy, dv_dx = np.gradient(backward[..., 1])
    boundary = du_dx ** 2 + du_dy ** 2 + dv_dx ** 2 + dv_dy ** 2 > 0.01 * (backward ** 2).sum(-1) + 0.002
    map_x, map_y = _sample_grid(backward)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return (consistent & ~boundary & inside).astype(np.float32)
