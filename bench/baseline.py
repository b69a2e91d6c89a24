"""The textbook Gatys loop that brushwork is measured against (bench/compare.py).

What the usual tutorial code does, on brushwork's own backbone and loss formulas so that both
optimise the same objective: every evaluation runs the whole VGG trunk (to pool5) in float32 with
contiguous tensors at the full output size, from the content image, with ``torch.optim.LBFGS`` at its
defaults (20 evaluations per ``step``, history 100) until 500 evaluations; pixels are clamped in the
closure, as in the PyTorch tutorial. The style and content targets are computed once, as that
tutorial does; recomputing them every step would make the baseline about three times slower still.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

import torch

from brushwork.config import StyleConfig
from brushwork.nets.vgg import PREPROCESSORS, Backbone
from brushwork.transfer import Objective


class FullForward:
    """A Backbone stand-in that always runs the whole trunk, then picks the layers asked for."""

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone
        # Backbone keeps its trunk channels-last, and a convolution with channels-last weights runs
        # channels-last whatever its input: the textbook loop gets its own contiguous copy.
        self.trunk = copy.deepcopy(backbone.trunk).to(memory_format=torch.contiguous_format)

    def check_layers(self, layers: Iterable[str], option: str) -> None:
        self.backbone.check_layers(layers, option)

    def features(self, rgb: torch.Tensor, layers: Iterable[str], checkpoint: bool = False) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        out: dict[str, torch.Tensor] = {}
        x = PREPROCESSORS[self.backbone.preprocessing](rgb).contiguous()
        for name, layer in self.trunk.layers.named_children():
            x = layer(x)
            if name in wanted:
                out[name] = x
        return out


def run_baseline(backbone: Backbone, content: torch.Tensor, style: torch.Tensor, config: StyleConfig,
                 evaluations: int = 500, max_seconds: float = float("inf"),
                 on_evaluation: Callable[[int], None] | None = None) -> tuple[torch.Tensor, int]:
    """Optimise from ``content`` [1,3,H,W] in [0,1]; returns (image, evaluations actually run).

    Stops after ``evaluations`` loss evaluations, or at the first L-BFGS step boundary after
    ``max_seconds`` of wall time.
    """
    objective = Objective(FullForward(backbone), content, [style], replace(config, precision="float32"))  # type: ignore[arg-type]
    image = content.clone().contiguous().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image])
    count = 0
    began = time.perf_counter()

    def closure() -> torch.Tensor:
        nonlocal count
        with torch.no_grad():
            image.clamp_(0, 1)
        optimizer.zero_grad()
        loss = objective(image)["total"]
        loss.backward()
        count += 1
        if on_evaluation is not None:
            on_evaluation(count)
        return loss

    while count < evaluations and time.perf_counter() - began < max_seconds:
        optimizer.param_groups[0]["max_iter"] = min(20, evaluations - count)
        optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0, 1)
    return image.detach(), count
