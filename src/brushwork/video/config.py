"""VideoConfig: every default of stylising a video, validated once; the CLI's ``brushwork video``
options are generated from its fields, and ``stylize_video`` takes the same names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from brushwork.config import (MAX_SIZE, MIN_SIZE, PRECISIONS, TV_RELATIVE_TO, Settings, StyleConfig, _check,
                              _check_weights, _opt, check_choices, check_types, upgrade_engine)
from brushwork.feedforward.config import ApplyConfig, check_stroke_scale, upgrade_stroke_scale


@dataclass(frozen=True)
class VideoConfig(Settings):
    """Every setting of a video run: the segment, the encoding, temporal consistency on both paths
    (the optimisation of Gatys et al. with a style image; a trained network with a model file), and
    the optimisation's loss weights."""

    size: int | None = _opt(None, "long side of the output frames in px (default: the video's own size)")
    start: float = _opt(0.0, "start of the segment to stylise, in seconds from the beginning")
    duration: float | None = _opt(None, "length of the segment in seconds (default: to the end)")
    crf: int = _opt(18, "H.264 quality of an MP4 output: 0 lossless, 18 visually lossless, 51 worst")
    independent: bool = _opt(False, "stylise every frame on its own: no flow, no warm start, no temporal loss, no "
                             "blending (flickers; the baseline that the temporal methods are measured against)")
    flow: Literal["ultrafast", "fast", "medium"] = _opt(
        "medium", "preset of the DIS optical flow: faster presets are coarser", choices=("ultrafast", "fast", "medium"))
    blend: float = _opt(0.4, "fast path: weight of the previous output, carried along the flow, on the pixels where "
                        "the flow is reliable (0: per-frame output; measured: 0.4 removes 55 percent of the flicker at "
                        "+5 percent style loss, 0.7 83 percent at +13 percent)")
    stroke_scale: float | None = _opt(
        ApplyConfig.stroke_scale, "fast path: run the network on each frame shrunk this many times and enlarge its "
        "painting back, as `brushwork apply --stroke-scale` (1 to 4) (default: as trained)")
    iterations: int = _opt(StyleConfig.iterations, "optimisation path: L-BFGS steps of the first frame, and of every "
                           "frame with --independent")
    later_iterations: int = _opt(100, "optimisation path: L-BFGS steps of each later frame, which starts from the "
                                 "previous result carried along the flow")
    temporal_weight: float = _opt(100.0, "optimisation path: weight of the temporal loss (Ruder et al. 2016) that "
                                  "keeps each frame close to the previous result where the flow is reliable")
    content_weight: float = _opt(StyleConfig.content_weight, "alpha: weight of the content loss")
    style_weight: float = _opt(StyleConfig.style_weight, "beta: weight of the style loss")
    tv_weight: float = _opt(StyleConfig.tv_weight, "gamma: weight of the total-variation (smoothness) loss (see "
                            "--tv-relative-to)")
    tv_relative_to: Literal["painting", "none"] = _opt(
        StyleConfig.tv_relative_to, "optimisation path: what the total variation is measured against (see "
        "`brushwork stylize --help`)", choices=TV_RELATIVE_TO)
    weights: str = _opt(StyleConfig.weights, "backbone weights of the optimisation path: a source name (see "
                        "`brushwork weights list`) or a file")
    pooling: Literal["avg", "max"] = _opt(StyleConfig.pooling, "pooling in the backbone", choices=("avg", "max"))
    precision: Literal["auto", "float32", "bfloat16"] = _opt(
        StyleConfig.precision, "arithmetic of the networks (an .onnx model runs in float32): bfloat16 where the "
        "hardware has it natively (auto), else float32", choices=PRECISIONS)
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps")

    def __post_init__(self) -> None:
        check_types(self)
        _check(self.size is None or MIN_SIZE <= self.size <= MAX_SIZE, "size", f"must be {MIN_SIZE} to {MAX_SIZE} px",
               self.size)
        _check(self.start >= 0, "start", "must be zero or positive", self.start)
        _check(self.duration is None or self.duration > 0, "duration", "must be positive", self.duration)
        _check(0 <= self.crf <= 51, "crf", "must be 0 to 51", self.crf)
        _check(0 <= self.blend < 1, "blend", "must be 0 or more and below 1", self.blend)
        check_stroke_scale(self.stroke_scale)
        _check(1 <= self.iterations <= 100_000, "iterations", "must be 1 to 100000", self.iterations)
        _check(1 <= self.later_iterations <= 100_000, "later_iterations", "must be 1 to 100000", self.later_iterations)
        _check_weights(self, ("temporal_weight", "content_weight", "style_weight", "tv_weight"))
        check_choices(self)

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        """See upgrade_engine (the total variation of version 1, the backbone of versions 1 and 2) and
        upgrade_stroke_scale (the fast path at the frames' own size before version 4)."""
        return upgrade_stroke_scale(upgrade_engine(values, version), version)

    def style_config(self, long_side: int, iterations: int) -> StyleConfig:
        """The settings of one frame's optimisation: a single scale of ``long_side`` px."""
        return StyleConfig(size=long_side, scales=1, iterations=iterations, content_weight=self.content_weight,
                           style_weight=self.style_weight, tv_weight=self.tv_weight,
                           tv_relative_to=self.tv_relative_to, weights=self.weights,
                           pooling=self.pooling, precision=self.precision, device=self.device)
