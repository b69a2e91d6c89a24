"""The optimisation of Gatys et al.: an Objective over a Backbone, and the coarse-to-fine ``paint``
that runs the generic loop of ``optim.py`` on the pixels.

Images are RGB tensors [1,3,H,W] in [0,1] throughout; the Backbone does its own preprocessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from brushwork.colour import luminance, match_colour, match_luminance, match_palette, recombine
from brushwork.config import MIN_SIZE, NOISE_STD, TV_FLOOR, StyleConfig, active_octaves
from brushwork.hardware import compute_dtype
from brushwork.image import halve, long_side_shape, resize, resize_long_side
from brushwork.losses import ContentLoss, LayoutLoss, StyleLoss, TVLoss, gram_matrix, total_variation
from brushwork.memory import memory_plan
from brushwork.nets.vgg import Backbone
from brushwork.optim import optimise
from brushwork.progress import Callback, Cancelled, CancelToken, Clock


def fit_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A mask [1,1,h,w] in [0,1] resized (area-averaged, so soft edges stay soft) to [1,1,height,width]."""
    if mask.shape[-2:] == (height, width):
        return mask
    return nn.functional.interpolate(mask, size=(height, width), mode="bilinear", antialias=True,
                                     align_corners=False).clamp(0, 1)


class Objective(nn.Module):
    """α·content + β·style + γ·TV for one content image and one or more styles, targets computed once.

    ``styles`` are [1,3,h,w] images of any size. Without masks their Gram matrices are blended by
    ``config.blend_weights`` into one target per layer; with ``style_masks`` ([1,1,H,W], one per style)
    each style is matched on its own region of the output. ``content_mask`` [1,1,H,W] weights the
    content loss per position. The layout term holds the light and dark of the content recoloured to the
    styles' palette (losses.LayoutLoss). The TV term is relative to the styles' own (``painting_roughness``)
    unless ``config.tv_relative_to`` is "none". ``forward(image [1,3,H,W])`` returns {"content", "style",
    "layout", "tv", "total"} as float32 scalar tensors.

    The network runs in ``config.precision`` (the targets too, so that the content image has zero
    content loss); ``checkpoint`` recomputes its activations in the backward pass to save memory
    (VGGTrunk.forward).
    """

    def __init__(self, backbone: Backbone, content: torch.Tensor, styles: Sequence[torch.Tensor],
                 config: StyleConfig, *, style_masks: Sequence[torch.Tensor] | None = None,
                 content_mask: torch.Tensor | None = None, checkpoint: bool = False) -> None:
        super().__init__()
        backbone.check_layers(config.content_layers, "content_layers")
        backbone.check_layers(config.style_layers, "style_layers")
        self.backbone = backbone
        self.layers = sorted(set(config.content_layers) | set(config.style_layers))
        self.dtype = compute_dtype(config.precision, content.device)
        self.checkpoint = checkpoint
        blend = config.blend_weights(len(styles))
        self.octaves = active_octaves(config.style_octaves, min(content.shape[-2:]))
        with torch.no_grad():
            content_features = self.features(content, self.layers)  # all layers: their shapes too
            # The layers' shapes by octave; those of the halved ones only the masks need, so without masks
            # the halved content is never run.
            shapes = {0: {layer: f.shape[-2:] for layer, f in content_features.items()}} | {
                k: {layer: f.shape[-2:] for layer, f in self.features(halve(content, k), config.style_layers).items()}
                for k in (self.octaves[1:] if style_masks is not None else [])}
            grams = [[self.grams(halve(style, k), config.style_layers) for style in styles] for k in self.octaves]
        self.content = nn.ModuleDict({
            layer: ContentLoss(content_features[layer], config.content_weight / len(config.content_layers),
                               None if content_mask is None else fit_mask(content_mask, *shapes[0][layer]))
            for layer in config.content_layers})
        # One list of (layer, loss) per octave.
        self.style_terms: list[list[tuple[str, StyleLoss]]] = [[] for _ in self.octaves]
        self.style = nn.ModuleList()
        for k, terms, octave_grams in zip(self.octaves, self.style_terms, grams):
            for layer, layer_weight in config.layer_weights().items():
                weight = config.style_weight * config.style_octaves[k] * layer_weight
                if style_masks is None:  # blend the targets: one loss per layer
                    terms.append((layer, StyleLoss(sum(w * g[layer] for w, g in zip(blend, octave_grams)), weight)))
                else:  # each style on its own region
                    for w, g, mask in zip(blend, octave_grams, style_masks):
                        region = fit_mask(mask, *shapes[k][layer])
                        # A masked Gram averages over the region only, so each of its pixels counts
                        # 1/share times more than in a whole-image Gram; weighting by the share keeps the
                        # pull on each pixel that of a single style (at full weight for equal blends).
                        share = float(region.mean())
                        if w > 0 and share > 0:
                            terms.append((layer, StyleLoss(g[layer], weight * share * w / max(blend), region)))
            self.style.extend(loss for _, loss in terms)
        layout_weight = config.effective_layout_weight()
        # Off by default from the photo: a term of weight 0 is reported as 0, not computed every iteration.
        self.layout = LayoutLoss(match_palette(content, styles, blend), layout_weight) if layout_weight > 0 else None
        self.tv = TVLoss(config.tv_weight / painting_roughness(styles, blend) if config.tv_relative_to == "painting"
                         else config.tv_weight)

    def grams(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The Gram matrices [1,N,N] (float32) of ``image`` [1,3,H,W] at ``layers``, in this objective's precision."""
        with self.precision(image):
            return {layer: gram_matrix(f).float() for layer, f in self.backbone.features(image, layers).items()}

    def precision(self, image: torch.Tensor) -> torch.autocast:
        """The autocast context of this objective's precision for ``image``'s device."""
        return torch.autocast(image.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)

    def features(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The backbone's features of ``image`` [1,3,H,W] in this objective's precision, as float32."""
        with self.precision(image):
            features = self.backbone.features(image, layers, self.checkpoint)
        return {name: f.float() for name, f in features.items()}

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        # Under autocast the Gram matrices are bfloat16 products too (with float32 accumulation); the
        # differences to the float32 targets and the sums are float32. Measured: 14% less time at equal
        # final losses (README, "Speed").
        with self.precision(image):
            features = self.backbone.features(image, self.layers, self.checkpoint)
            style = sum(loss(features[layer]) for layer, loss in self.style_terms[0])
            for k, octave in zip(self.octaves[1:], self.style_terms[1:]):
                halved = self.backbone.features(halve(image, k), [layer for layer, _ in octave], self.checkpoint)
                style = style + sum(loss(halved[layer]) for layer, loss in octave)
            terms = {"content": sum(loss(features[layer]) for layer, loss in self.content.items()), "style": style}
        terms = {name: term.float() for name, term in terms.items()}
        terms["layout"] = self.layout(image) if self.layout is not None else image.new_zeros(())
        terms["tv"] = self.tv(image)
        terms["total"] = terms["content"] + terms["style"] + terms["layout"] + terms["tv"]
        return terms


def painting_roughness(styles: Sequence[torch.Tensor], blend: Sequence[float]) -> float:
    """The total variation of the styles [1,3,h,w] as the style loss sees them, blended by ``blend``; at least
    TV_FLOOR. The unit of a TV term relative to the painting: an output as rough as the painting costs its weight."""
    return max(TV_FLOOR, sum(w * float(total_variation(style.float())) for w, style in zip(blend, styles)))


def noise_image(content: torch.Tensor, seed: int) -> torch.Tensor:
    """Seeded Gaussian noise of std NOISE_STD around the content's mean colour, shaped like ``content``
    [1,3,H,W], clamped to [0,1].

    Faint noise, as in the classic Torch implementation (which starts from 0.001·N(0,1) around the mean
    pixel), rather than full-range noise, a texture of its own that the style loss keeps. With the default
    weights the subject still dissolves from either start (README, "Optimiser"; issue 15).
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(content.shape, generator=generator).to(content.device)
    return (content.mean(dim=(2, 3), keepdim=True) + NOISE_STD * noise).clamp(0, 1)


def initial_image(content: torch.Tensor, styles: Sequence[torch.Tensor], init: str, seed: int,
                  blend: Sequence[float] | None = None) -> torch.Tensor:
    """The start of the optimisation, shaped like ``content`` [1,3,H,W] in [0,1].

    palette: the content recoloured to the styles' RGB mean and covariance (blended by ``blend``, default
    equal), so the optimisation starts in the painting's colours instead of having to find them;
    content: the photo; style: the first style resized; noise: see ``noise_image``.
    """
    if init == "palette":
        return match_palette(content, styles, blend or [1 / len(styles)] * len(styles))
    if init == "content":
        return content.clone()
    if init == "style":
        return resize(styles[0], *content.shape[-2:])
    return noise_image(content, seed)


def paint(backbone: Backbone, content: torch.Tensor, styles: Sequence[torch.Tensor], config: StyleConfig,
          *, style_masks: Sequence[torch.Tensor] | None = None, content_mask: torch.Tensor | None = None,
          init: torch.Tensor | None = None, callbacks: Iterable[Callback] = (),
          cancel: CancelToken | None = None) -> torch.Tensor:
    """The whole run: colour handling, then coarse to fine over ``config.plan_scales()``.

    Inputs are full-resolution RGB [1,3,H,W] in [0,1] (styles of any size), masks [1,1,H,W], ``init``
    an optional start image. Each scale starts from the previous result, upsampled (Gatys et al.
    2017, "Controlling Perceptual Factors"); the style is resized to ``style_scale`` times each
    scale's size. Returns [1,3,h,w] with long side ``config.size``. Callbacks get a "stylize" event
    after every iteration (stage "scale k/n"); a cancelled ``cancel`` raises Cancelled whose result
    is the last iterate as an RGB image [1,3,h',w'] at the scale it had reached.
    """
    callbacks = list(callbacks)
    if config.preserve_colors == "histogram":  # Gatys et al. 2016: the style takes the content's colours
        styles = [match_colour(style, content) for style in styles]
    work = content
    if config.preserve_colors == "luminance":  # ... or transfer on luminance alone
        work = luminance(content)
        styles = [match_luminance(luminance(style), work) for style in styles]
        init = None if init is None else luminance(init)

    def finish(image: torch.Tensor) -> torch.Tensor:
        """An iterate as the RGB result: the content's colours put back in luminance mode."""
        return recombine(image, content) if config.preserve_colors == "luminance" else image

    plan = config.plan_scales()
    blend = config.blend_weights(len(styles))
    total = sum(iterations for _, iterations in plan)
    shapes = [long_side_shape(*work.shape[-2:], size) for size, _ in plan]
    # The clock weighs each iteration by its pixels, so that the time left counts finer scales dearer.
    clock = Clock(sum(iterations * h * w for (_, iterations), (h, w) in zip(plan, shapes)))
    image: torch.Tensor | None = None
    previous: torch.Tensor | None = None  # the content at the previous scale
    done = 0
    # Decide memory for every scale before any work, so that a run that cannot fit fails at once.
    with memory_plan(config, shapes, work.device) as checkpoints:
        for k, ((size, iterations), checkpoint) in enumerate(zip(plan, checkpoints)):
            target = resize_long_side(work, size)
            scaled_styles = [resize_long_side(style, max(MIN_SIZE, round(size * config.style_scale)))
                             for style in styles]
            objective = Objective(backbone, target, scaled_styles, config, style_masks=style_masks,
                                  content_mask=content_mask, checkpoint=checkpoint)
            if image is not None and previous is not None and init is None and config.init in ("palette", "content"):
                # Upsampling blurs: add back the content's detail that the coarser scale could not hold,
                # so the finer scale starts sharp (measured: README, "Speed").
                start = (resize(image, *target.shape[-2:]) + target - resize(previous, *target.shape[-2:])).clamp(0, 1)
            elif image is not None:
                start = resize(image, *target.shape[-2:])
            elif init is not None:
                start = resize(init, *target.shape[-2:])
            else:
                start = initial_image(target, scaled_styles, config.init, config.seed, blend)
            try:
                image = optimise(objective, start, config, callbacks, iterations=iterations, done=done,
                                 total=total, tolerance=config.tolerance, cancel=cancel,
                                 stage=f"scale {k + 1}/{len(plan)}", clock=clock, units=target[0, 0].numel(),
                                 size=size)
            except Cancelled as stop:
                raise Cancelled(stop.step, finish(stop.result)) from None
            done += iterations
            previous = target
    assert image is not None
    return finish(image)
