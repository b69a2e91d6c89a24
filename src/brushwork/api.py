"""The Python entry point: ``stylize(content, style, **options) -> PIL.Image``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from brushwork.config import INIT_KEYWORDS, MIN_SIZE, StyleConfig, _check
from brushwork.errors import BrushworkError
from brushwork.hardware import resolve_device
from brushwork.image import ImageSource, load_image, load_mask, long_side_shape, to_pil
from brushwork.nets.vgg import Backbone
from brushwork.nets.weights import load_backbone
from brushwork.outputs import Input, weights_input
from brushwork.progress import Callback, Cancelled, CancelToken, check_cancel
from brushwork.transfer import paint


def _name(source: ImageSource, role: str) -> str:
    """How messages name an image: its path, or its role for an image in memory."""
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else role


def backbone_for(config: StyleConfig, device: torch.device) -> Backbone:
    """The Backbone that ``config`` names, on ``device``."""
    return load_backbone(config.weights, pooling=config.pooling, preprocessing=config.preprocessing,
                         device=device)


def stylize_inputs(content: ImageSource, styles: Sequence[ImageSource], config: StyleConfig) -> list[Input]:
    """The files that a run reads, as (role, path): content, styles, masks, start image and weights file."""
    named = [("content", content), *(("style", s) for s in styles),
             *(("--style-masks file", m) for m in config.style_masks or ()), ("--content-mask", config.content_mask),
             ("--init image", None if config.init in INIT_KEYWORDS else config.init)]
    return [(role, p) for role, p in named if isinstance(p, (str, os.PathLike))] + weights_input(config.weights)


def _check_fits(net: Backbone, config: StyleConfig, name: str, image: torch.Tensor, long_side: int,
                remedy: str) -> None:
    """Raise a one-line error naming ``name`` if ``image`` resized to ``long_side`` px is too narrow for
    the deepest layer of ``config`` (an extreme aspect ratio), before any work."""
    side, layer = net.trunk.min_side({*config.content_layers, *config.style_layers})
    height, width = long_side_shape(*image.shape[-2:], long_side)
    if min(height, width) < side:
        raise BrushworkError(f"{name}: its aspect ratio ({image.shape[-1]}x{image.shape[-2]} px) is too extreme: at "
                             f"{width}x{height} px it is narrower than the {side} px that layer {layer} needs; "
                             f"crop it, or {remedy}")


def stylize(
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    config: StyleConfig | None = None,
    *,
    callbacks: Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    backbone: Backbone | None = None,
    quality: str = "normal",
    **options: Any,
) -> Image.Image:
    """Paint ``content`` in the style of ``style`` (Gatys et al. 2015), or of several styles blended.

    ``content`` and each style are paths, PIL images, NumPy arrays (HxWxC) or tensors ([1,C,H,W] in
    [0,1]); pass a list for several styles. ``options`` override fields of ``config`` (default: the
    ``quality`` preset, draft, normal or high, see QUALITY_PRESETS), e.g. ``size=256``,
    ``style_blend=(3, 7)``, ``style_masks=("left.png", "right.png")``. ``backbone`` reuses an already
    loaded network (it must match ``config``'s weights; it is copied, never moved, to another device).
    Returns an RGB image (RGBA when the content had transparency) whose long side is ``size`` px.

    ``callbacks`` receive a :class:`~brushwork.progress.ProgressEvent` after every iteration. When
    ``cancel`` is cancelled (from any thread) the run stops before its next iteration and raises
    :class:`~brushwork.progress.Cancelled` whose ``result`` is the last iterate as an RGB PIL image.
    """
    config = replace(config, **options) if config is not None else StyleConfig.for_quality(quality, **options)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    config.check_styles(len(styles))
    _check(config.init in INIT_KEYWORDS or Path(config.init).exists(),
           "init", f"is neither {', '.join(INIT_KEYWORDS[:-1])} nor {INIT_KEYWORDS[-1]}, nor an image file",
           config.init)
    device = resolve_device(config.device)
    content_rgb, alpha = load_image(content, config.max_pixels, name=_name(content, "content image"))
    height, width = content_rgb.shape[-2:]
    style_rgbs = [load_image(s, config.max_pixels, name=_name(s, "style image"))[0].to(device) for s in styles]
    masks = None if config.style_masks is None else [
        load_mask(path, config.max_pixels, height, width).to(device) for path in config.style_masks]
    content_mask = None if config.content_mask is None else load_mask(
        config.content_mask, config.max_pixels, height, width).to(device)
    init = None if config.init in INIT_KEYWORDS else load_image(config.init, config.max_pixels)[0].to(device)
    check_cancel(cancel)
    net = backbone.to(device) if backbone is not None else backbone_for(config, device)
    net.check_layers(config.content_layers, "content_layers")
    net.check_layers(config.style_layers, "style_layers")
    coarsest = config.plan_scales()[0][0]
    _check_fits(net, config, _name(content, "content image"), content_rgb, coarsest, "raise size or lower scales")
    for source, rgb in zip(styles, style_rgbs):
        _check_fits(net, config, _name(source, "style image"), rgb, max(MIN_SIZE, round(coarsest * config.style_scale)),
                    "raise style_scale")
    try:
        result = paint(net, content_rgb.to(device), style_rgbs, config, style_masks=masks,
                       content_mask=content_mask, init=init, callbacks=callbacks, cancel=cancel)
    except Cancelled as stop:
        raise Cancelled(stop.step, to_pil(stop.result.cpu())) from None
    return to_pil(result.cpu(), alpha)
