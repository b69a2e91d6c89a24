"""The Python entry point: ``stylize(content, style, **options) -> PIL.Image``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import torch
from PIL import Image

from brushwork.config import StyleConfig
from brushwork.image import ImageSource, load_image, resize_long_side, to_pil
from brushwork.nets.vgg import Backbone
from brushwork.nets.weights import load_backbone
from brushwork.transfer import Callback, Objective, initial_image, optimise, resolve_device


def backbone_for(config: StyleConfig, device: torch.device) -> Backbone:
    """The Backbone that ``config`` names, on ``device``."""
    return load_backbone(config.weights, pooling=config.pooling, preprocessing=config.preprocessing,
                         device=device)


def stylize(
    content: ImageSource,
    style: ImageSource,
    config: StyleConfig | None = None,
    *,
    callbacks: Iterable[Callback] = (),
    backbone: Backbone | None = None,
    **options: Any,
) -> Image.Image:
    """Paint ``content`` in the style of ``style`` (Gatys et al. 2015).

    ``content`` and ``style`` are paths, PIL images, NumPy arrays (HxWxC) or tensors ([1,C,H,W] in
    [0,1]). ``options`` override fields of ``config`` (defaults: StyleConfig()), e.g. ``size=256``.
    ``backbone`` reuses an already loaded network (it must match ``config``'s weights). Returns an
    RGB image (RGBA when the content had transparency) whose long side is ``size`` px.
    """
    config = replace(config or StyleConfig(), **options)
    device = resolve_device(config.device)
    content_rgb, alpha = load_image(content, config.max_pixels)
    style_rgb, _ = load_image(style, config.max_pixels)
    content_rgb = resize_long_side(content_rgb, config.size).to(device)
    style_rgb = resize_long_side(style_rgb, config.size).to(device)
    net = backbone.to(device) if backbone is not None else backbone_for(config, device)
    objective = Objective(net, content_rgb, style_rgb, config)
    start = initial_image(content_rgb, style_rgb, config.init, config.seed)
    result = optimise(objective, start, config, callbacks)
    return to_pil(result.cpu(), alpha)
