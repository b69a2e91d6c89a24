"""Optical flow, its reliability, the temporal loss and blending, and the warping error, on frames
whose true motion is known (a photo panned by PAN px a frame)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from video_fixtures import PAN, panned, zoomed

from brushwork.video.flow import FlowEstimator, reliable, warp
from brushwork.video.metric import warping_error
from brushwork.video.temporal import FlowTracker, TemporalObjective, Warped, blend, to_tensor, to_uint8, warm_start


def test_flow_finds_the_pan_and_warping_by_it_rebuilds_the_frame() -> None:
    before, after = panned(2, 96, 64)
    flow = FlowEstimator("medium")
    backward, forward = flow(after, before), flow(before, after)
    # The picture moves PAN px left: each pixel of the later frame was PAN px further right before.
    assert abs(float(np.median(backward[8:-8, 8:-8, 0])) - PAN) < 0.25
    assert abs(float(np.median(backward[8:-8, 8:-8, 1]))) < 0.25
    assert abs(float(np.median(forward[8:-8, 8:-8, 0])) + PAN) < 0.25
    mask = reliable(backward, forward)
    assert mask[:, -PAN:].sum() == 0  # came from outside the earlier frame
    assert mask.mean() > 0.7
    rebuilt = warp(before.astype(np.float32), backward)
    error = np.abs(rebuilt - after.astype(np.float32)).mean(-1)
    assert (error * mask).sum() / mask.sum() < 6  # of 255; the unwarped frame differs far more
    assert (error * mask).sum() / mask.sum() < 0.3 * np.abs(before.astype(np.float32) - after).mean()


def test_reliable_excludes_where_the_flows_disagree_and_motion_boundaries() -> None:
    still = np.zeros((20, 30, 2), np.float32)
    assert reliable(still, still).all()
    backward = still.copy()
    backward[:, 15:, 0] = 5  # the right half moved: a motion boundary at column 15
    mask = reliable(backward, -warp(backward, backward))
    assert mask[:, 14:16].sum() == 0 and mask[:, :12].all()
    assert not reliable(backward, still)[:, 17:24].any()  # the forward flow does not lead back


def test_warping_error_of_a_steady_video_is_low_and_flicker_raises_it() -> None:
    frames = zoomed(5, 64, 48)
    floor = warping_error(frames)
    rng = np.random.default_rng(0)
    flicker = [np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert floor < 0.004
    assert warping_error(frames, flicker) > 5 * floor


def test_blending_along_the_flow_lowers_the_warping_error() -> None:
    frames = panned(6, 64, 48)
    rng = np.random.default_rng(1)
    styled = [np.clip(f + rng.normal(0, 15, f.shape), 0, 255).astype(np.uint8) for f in frames]
    tracker = FlowTracker("medium")
    stable = [styled[0]]
    for t in range(1, len(frames)):
        warped = tracker(frames[t - 1], frames[t], stable[-1])
        stable.append(to_uint8(blend(to_tensor(styled[t]), warped, 0.7)))
    assert warping_error(frames, stable) < 0.5 * warping_error(frames, styled)


def test_temporal_loss_is_the_masked_mean_squared_difference() -> None:
    class Zero(nn.Module):
        def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"total": image.sum() * 0}

    target = torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, 1, 4, 5)
    mask[..., :2, :] = 1
    image = torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(1))
    terms = TemporalObjective(Zero(), Warped(target, mask), 10.0)(image)
    expected = 10.0 * float(((image - target) ** 2)[..., :2, :].sum()) / image.numel()
    assert abs(float(terms["temporal"]) - expected) < 1e-5 and abs(float(terms["total"]) - expected) < 1e-5
    start = warm_start(image, Warped(target, mask))
    assert torch.equal(start[..., :2, :], target[..., :2, :]) and torch.equal(start[..., 2:, :], image[..., 2:, :])
    mixed = blend(image, Warped(target, mask), 0.25)
    assert torch.allclose(mixed[..., :2, :], 0.75 * image[..., :2, :] + 0.25 * target[..., :2, :])
    assert torch.equal(mixed[..., 2:, :], image[..., 2:, :])
