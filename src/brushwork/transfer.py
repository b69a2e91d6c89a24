"""The optimisation of Gatys et al.: an Objective over a Backbone, and a loop that updates the pixels.

Images are RGB tensors [1,3,H,W] in [0,1] throughout; the Backbone does its own preprocessing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.losses import ContentLoss, StyleLoss, TVLoss, gram_matrix
from brushwork.nets.vgg import Backbone


@dataclass(frozen=True)
class Progress:
    """What a callback sees after each iteration.

    ``losses`` holds each weighted term by name ("content", "style", "tv") and their sum ("total");
    ``image`` is the current iterate [1,3,H,W] in [0,1], shared with the optimiser: copy it to keep it.
    """

    iteration: int
    iterations: int
    losses: dict[str, float]
    elapsed: float
    image: torch.Tensor


Callback = Callable[[Progress], None]


class Objective(nn.Module):
    """α·content + β·style + γ·TV for one content and one style image, targets computed once.

    ``forward(image [1,3,H,W])`` returns {"content", "style", "tv", "total"} as scalar tensors.
    """

    def __init__(self, backbone: Backbone, content: torch.Tensor, style: torch.Tensor,
                 config: StyleConfig) -> None:
        super().__init__()
        backbone.check_layers(config.content_layers, "--content-layers")
        backbone.check_layers(config.style_layers, "--style-layers")
        self.backbone = backbone
        self.layers = sorted(set(config.content_layers) | set(config.style_layers))
        with torch.no_grad():
            content_features = backbone.features(content, config.content_layers)
            style_features = backbone.features(style, config.style_layers)
        self.content = nn.ModuleDict({
            layer: ContentLoss(content_features[layer], config.content_weight / len(config.content_layers))
            for layer in config.content_layers})
        self.style = nn.ModuleDict({
            layer: StyleLoss(gram_matrix(style_features[layer]), config.style_weight * w)
            for layer, w in config.layer_weights().items()})
        self.tv = TVLoss(config.tv_weight)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.backbone.features(image, self.layers)
        terms = {
            "content": sum(loss(features[layer]) for layer, loss in self.content.items()),
            "style": sum(loss(features[layer]) for layer, loss in self.style.items()),
            "tv": self.tv(image),
        }
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; other names must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BrushworkError(f"--device {name}: not a device name (use auto, cpu, cuda, cuda:N or mps)") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise BrushworkError(f"--device {name}: not available on this machine")
    return device


def initial_image(content: torch.Tensor, style: torch.Tensor, init: str, seed: int) -> torch.Tensor:
    """The start of the optimisation, shaped like ``content`` [1,3,H,W] in [0,1]."""
    if init == "content":
        return content.clone()
    if init == "style":
        return nn.functional.interpolate(style, size=content.shape[-2:], mode="bicubic",
                                         align_corners=False, antialias=True).clamp(0, 1)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


def _optimizer(image: torch.Tensor, config: StyleConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([image], lr=config.learning_rate)
    # One function evaluation per step and no line search, as in the classic Torch implementation;
    # the history carries over between steps. Tolerances off: the iteration count decides the end.
    return torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=50,
                             tolerance_grad=-1.0, tolerance_change=-1.0)


def optimise(objective: Objective, start: torch.Tensor, config: StyleConfig,
             callbacks: Iterable[Callback] = ()) -> torch.Tensor:
    """Run ``config.iterations`` optimiser steps from ``start``; return the final image [1,3,H,W] in [0,1].

    Pixels are clamped to [0,1] after every step, so every iterate is a valid image.
    """
    callbacks = list(callbacks)
    image = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    optimizer = _optimizer(image, config)
    last: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = objective(image)
        terms["total"].backward()
        last.update({name: term.detach() for name, term in terms.items()})
        return terms["total"]

    began = time.perf_counter()
    for iteration in range(1, config.iterations + 1):
        optimizer.step(closure)
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
        if callbacks:
            progress = Progress(iteration, config.iterations, {k: float(v) for k, v in last.items()},
                                time.perf_counter() - began, image.detach())
            for callback in callbacks:
                callback(progress)
    return image.detach()
