"""Per-frame engines: one frame [1,3,H,W] in [0,1] (and the previous output carried into it, from
the second frame on) to its stylised frame, on the optimisation path or the fast path.

An engine is called as ``engine(frame, warped, cancel) -> (image, losses)``; ``cost(warped)`` weighs
a frame's work for the time-left estimate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from brushwork.api import backbone_for
from brushwork.feedforward.apply import open_engine, run_at_stroke_scale
from brushwork.feedforward.config import ApplyConfig
from brushwork.hardware import resolve_device
from brushwork.image import resize_long_side
from brushwork.nets.vgg import Backbone
from brushwork.optim import optimise
from brushwork.progress import CancelToken
from brushwork.transfer import Objective, initial_image
from brushwork.video.config import VideoConfig
from brushwork.video.temporal import TemporalObjective, Warped, blend, warm_start

#: Files taken as trained networks (the fast path); anything else is a style image.
MODEL_SUFFIXES = (".safetensors", ".onnx")


class FrameEngine(Protocol):
    def __call__(self, frame: torch.Tensor, warped: Warped | None, cancel: CancelToken | None
                 ) -> tuple[torch.Tensor, dict[str, float]]: ...

    def cost(self, warped: bool) -> float: ...


class OptimisationEngine:
    """Gatys et al. per frame, made temporally consistent after Ruder, Dosovitskiy and Brox (2016):
    the first frame gets ``config.iterations`` from the frame itself; each later one starts from the
    previous result carried along the flow (``warm_start``) and gets ``config.later_iterations`` with
    the temporal loss added. With ``config.independent`` every frame is a first frame."""

    def __init__(self, style: torch.Tensor, config: VideoConfig, long_side: int, backbone: Backbone | None = None
                 ) -> None:
        self.config, self.long_side = config, long_side
        first = config.style_config(long_side, config.iterations)
        self.device = resolve_device(first.device)
        self.backbone = backbone.to(self.device) if backbone is not None else backbone_for(first, self.device)
        self.style = resize_long_side(style, long_side).to(self.device)

    def cost(self, warped: bool) -> float:
        return self.config.later_iterations if warped else self.config.iterations

    def __call__(self, frame: torch.Tensor, warped: Warped | None, cancel: CancelToken | None
                 ) -> tuple[torch.Tensor, dict[str, float]]:
        config = self.config.style_config(self.long_side, int(self.cost(warped is not None)))
        frame = frame.to(self.device)
        objective: torch.nn.Module = Objective(self.backbone, frame, [self.style], config)
        # The frame in the painting's palette (the stylize default's start), under the previous output
        # carried along the flow where that is reliable.
        start = initial_image(frame, [self.style], config.init, config.seed)
        if warped is not None:
            warped = Warped(warped.image.to(self.device), warped.mask.to(self.device))
            start = warm_start(start, warped)
            objective = TemporalObjective(objective, warped, self.config.temporal_weight)
        image = optimise(objective, start, config, tolerance=config.tolerance, cancel=cancel, task="video")
        with torch.no_grad():
            losses = {name: float(value) for name, value in objective(image).items()}
        return image.cpu(), losses


class FeedForwardEngine:
    """A trained network per frame (a .safetensors file with PyTorch, an .onnx file with onnxruntime),
    its output blended with the previous output carried along the flow (``temporal.blend``)."""

    def __init__(self, model: Path, config: VideoConfig) -> None:
        self.config = config
        self.engine, self.metadata = open_engine(model, ApplyConfig(precision=config.precision, device=config.device))

    def cost(self, warped: bool) -> float:
        return 1.0

    def __call__(self, frame: torch.Tensor, warped: Warped | None, cancel: CancelToken | None
                 ) -> tuple[torch.Tensor, dict[str, float]]:
        styled = run_at_stroke_scale(self.engine, frame, self.config.stroke_scale, self.metadata)
        return (styled if warped is None else blend(styled, warped, self.config.blend)), {}
