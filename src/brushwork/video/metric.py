"""The warping error of Lai et al. (2018, "Learning Blind Video Temporal Consistency"): how much
each output frame differs from the previous output frame carried along by the *input's* motion.

E = 1/(T-1) Σ_t Σ_p M_t(p) ‖O_t(p) - warp(O_{t-1})(p)‖² / Σ_p M_t(p), with the flow and the
occlusion mask M_t estimated on the input frames (here DIS, where Lai et al. use FlowNet2), pixel
values in [0,1] and the squared norm averaged over the three channels. The same number for the input
video itself is the floor a stylised video can hope for (lighting changes and flow errors).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brushwork.video.flow import FlowEstimator, FlowPreset, reliable, warp


def frame_warping_error(output: np.ndarray, previous_output: np.ndarray, backward: np.ndarray,
                        mask: np.ndarray) -> float:
    """One frame's term: outputs uint8 [H,W,3], ``backward`` the input's flow [H,W,2] from this frame
    to the previous one and ``mask`` its reliability [H,W] (see ``flow.reliable``)."""
    now = output.astype(np.float32) / 255
    before = warp(previous_output.astype(np.float32) / 255, backward)
    squared = ((now - before) ** 2).mean(-1)
    return float((squared * mask).sum() / max(float(mask.sum()), 1.0))


def warping_error(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray] | None = None,
                  preset: FlowPreset = "medium") -> float:
    """The mean warping error of ``outputs`` (uint8 [H,W,3] frames) under the motion of ``inputs``
    (frames of the same size and count); without ``outputs``, that of the inputs themselves."""
    outputs = inputs if outputs is None else outputs
    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise ValueError(f"need two or more frames and as many outputs as inputs, got {len(inputs)} and {len(outputs)}")
    flow = FlowEstimator(preset)
    errors = []
    for t in range(1, len(inputs)):
        backward, forward = flow(inputs[t], inputs[t - 1]), flow(inputs[t - 1], inputs[t])
        errors.append(frame_warping_error(outputs[t], outputs[t - 1], backward, reliable(backward, forward)))
    return float(np.mean(errors))
