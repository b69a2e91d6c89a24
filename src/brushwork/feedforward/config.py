"""TrainConfig and ApplyConfig: every default of training and of running a style network, validated once.

The CLI builds ``brushwork train`` and ``brushwork apply`` options from these fields, as it does
``stylize``'s from StyleConfig; the Python API takes the same names as keyword arguments. Both have
the JSON form of :class:`brushwork.config.Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from brushwork.config import (MAX_SIZE, MIN_SIZE, PRECISIONS, PRESERVE_COLORS, Settings, StyleConfig, _check,
                              _check_weights, _opt, check_choices, check_octaves, check_types, upgrade_weights)
from brushwork.feedforward.network import ENCODERS, NORMALISATIONS, RESIDUALS, base_blur_problem
from brushwork.outputs import OVERWRITE_HELP

#: Bounds of ApplyConfig.stroke_scale: a network is never run above its image's size, nor on an image shrunk more
#: than four times (its painting would be enlarged into a blur).
MIN_STROKE_SCALE, MAX_STROKE_SCALE = 1.0, 4.0
#: The most the default (as trained) shrinks: on Tübingen at 1024 px a network trained on 256 px crops, run as
#: trained (3 times smaller), gave a blur at full size; at 2 its strokes still read as paint (README, "Stroke size
#: as trained").
MAX_TRAINED_STROKE_SCALE = 2.0
#: Settings that ``--resume`` may change: they say how long and where to run, not what is learned.
RUN_SETTINGS = frozenset({"steps", "epochs", "time_limit", "checkpoint_every", "validation_count", "precision",
                          "device", "workers", "reference"})


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Every setting of training an image transformation network for one style or several (Johnson et al.
    2016; Dumoulin et al. 2017)."""

    steps: int = _opt(40_000, "optimiser steps (one batch each); Johnson et al. train 40000 steps of 4 "
                      "(two epochs of COCO)")
    epochs: int | None = _opt(None, "train this many passes over the photos instead of --steps")
    time_limit: float | None = _opt(None, "stop after this many minutes (the model is written as at the end)")
    batch_size: int = _opt(4, "photos per step (per process under torchrun)")
    crop_size: int = _opt(256, "side of the square training crops in px (a multiple of 4)")
    photo_size: int | None = _opt(None, "long side in px the photos are scaled to before cropping, the size the "
                                  "network will be applied at (default: their short side to the crop size)")
    learning_rate: float = _opt(1e-3, "Adam step size")
    # Without it the first full-size Adam steps overshoot, and within nine steps every ReLU before the last layer
    # of a palette network was dead: it output its base for good (measured: README, "The dead network").
    # Per style: a pack of four with a 100-step warmup in all died twice of two just after it; with 100 a style,
    # 400 in all, three of three lived (measured: README, "Several styles in one network").
    warmup_steps: int = _opt(100, "raise the step size linearly to learning_rate over the first N steps of each "
                             "style (N x the number of styles in all; 0: full from the first step)")
    content_weight: float = _opt(StyleConfig.content_weight, "alpha: weight of the content loss")
    # The engine's 30. A network that painted the whole image (--residual none) learnt one texture for every
    # photo at 30, and 3 was its best; one that changes the photo in the painting's colours keeps the photo's
    # layout by construction, and at 10 it only recoloured (measured: README, "Training", "Dark tones").
    style_weight: float = _opt(StyleConfig.style_weight, "beta: weight of the style loss")
    # Absolute, as the engine's was before settings version 2: every network figure in the README was measured at 5;
    # 0.5 traded style for content, and a heavier term (20, 50) did not remove the streaks (README, "The encoder",
    # "Sixth round").
    tv_weight: float = _opt(5.0, "gamma: weight of the total-variation (smoothness) loss of the output itself")
    style_size: int = _opt(256, "long side of the style image in px when its Gram matrices are taken")
    style_margin: float = _opt(0.0, "share of the style image's width and height left out at each edge (after "
                               "--style-size, 0 to 0.25): a frame, bare canvas or a signature that the networks would "
                               "otherwise paint down their outputs' edges")
    # Content at relu2_2, as Johnson et al.: against relu3_3 it gave lower style loss and kept the photos'
    # shading, where relu3_3 kept only their outlines (measured: README, "Training"). Style at the last
    # ReLU of the first four blocks.
    content_layers: tuple[str, ...] = _opt(("relu2_2",), "layers of the content loss, comma-separated")
    style_layers: tuple[str, ...] = _opt(("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
                                         "layers of the style loss, comma-separated")
    style_octaves: tuple[float, ...] = _opt(
        StyleConfig.style_octaves, "weight of the style loss at the crops' size, then with the output and the "
        "painting halved, then quartered, comma-separated (1 to 3 weights; an octave under 32 px is left out)")
    # 16, not Johnson et al.'s 32: in 400-step runs half the width scored as well or better on the independent
    # style score after the same steps (both encoders), at 0.5 to 0.7 of the time a step (README, "The encoder").
    width: int = _opt(16, "channels of the network's first layer (Johnson et al.: 32; the residual blocks have 4x "
                      "as many); smaller is faster")
    residual_blocks: int = _opt(5, "residual blocks of the network (Johnson et al.: 5)")
    # Scale, not Ulyanov et al.'s instance normalisation: with the mean taken out, every short run drew
    # blobs on every held-out photo; dividing by the root mean square alone drew none, at the same
    # independent scores (measured: README, "The blob").
    normalisation: Literal["instance", "scale"] = _opt(
        "scale", "normalisation of each channel in the network: instance (take out its mean and divide by its "
        "deviation, Ulyanov et al.) or scale (only divide by its root mean square, as StyleGAN2)",
        choices=NORMALISATIONS)
    # Palette: networks that painted the whole image had none of the painting's dark tones after an hour;
    # changing the photo in the painting's colours has them from the first step (README, "Dark tones").
    residual: Literal["none", "palette"] = _opt(
        "palette", "what the network's last layer adds to: none (it paints the whole image, Johnson et al.) or "
        "palette (the photo recoloured to the style's colours, which is also the content loss's target)",
        choices=RESIDUALS)
    # 4, not 1: after an hour on The Scream the sharp base's outputs were the photo with a texture on it, 1.36 times
    # the optimisation's independent style score, the soft base's a painting, 1.23 times, and ahead at equal content;
    # on The Starry Night a painting again, level at equal content (README, "The soft base by default").
    base_blur: int = _opt(4, "with --residual palette: soften the recoloured photo that the last layer changes by "
                          "downsampling it this many times (1, 2 or 4) and back, so that the network paints its fine "
                          "detail instead of passing the photo's through (1: keep it, as --residual none needs)")
    # The backbone's layers: a network that need not learn its features from a few thousand crops painted the
    # sky in bands and kept no dark frame or red halos (README, "The encoder").
    encoder: Literal["own", "backbone"] = _opt(
        "backbone", "what turns the photo into features for the residual blocks: own (three convolutions learnt "
        "from scratch, Johnson et al.) or backbone (the backbone's first layers, conv1_1 to relu3_1, frozen and "
        "stored in the model file)", choices=ENCODERS)
    checkpoint_every: int = _opt(500, "write a checkpoint, a preview grid and the loss curves every N steps")
    validation_count: int = _opt(4, "photos held out of training and stylised into each preview grid")
    reference: Literal["draft", "normal", "none"] = _opt(
        "draft", "quality preset of the optimisation's output of the first held-out photo, painted once at the "
        "start beside the network's in each preview grid and scored with it (none: no reference)",
        choices=("draft", "normal", "none"))
    precision: Literal["auto", "float32", "bfloat16"] = _opt(
        StyleConfig.precision, "arithmetic of the networks: bfloat16 autocast (auto: where the hardware has "
        "it natively, GPUs with native bf16 and CPUs with AVX-512 BF16 or AMX), else float32", choices=PRECISIONS)
    seed: int = _opt(0, "random seed of the network's start, the photo order and the crops")
    workers: int = _opt(2, "processes that decode photos (0: decode in the training process)")
    # After 1000 steps the VGG-19 as loss and encoder scored better on both axes than HED's VGG-16, without the
    # streaks or a blob (README, "Feed-forward networks", "The backbone"); the README's hour of training was HED's.
    weights: str = _opt(StyleConfig.weights, "backbone weights: a source name (see `brushwork weights list`) "
                        "or a file")
    pooling: Literal["avg", "max"] = _opt(StyleConfig.pooling, "pooling in the backbone", choices=("avg", "max"))
    preprocessing: Literal["caffe", "imagenet"] | None = _opt(
        None, "input convention of a --weights file (default: caffe for .h5, imagenet for PyTorch files)",
        choices=("caffe", "imagenet"))
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps (under torchrun: one GPU per process)")
    max_pixels: int = _opt(StyleConfig.max_pixels, "skip photos with more pixels than this")

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        """See upgrade_weights: versions 1 and 2 trained on vgg16-hed unless they named weights."""
        return upgrade_weights(values, version)

    def __post_init__(self) -> None:
        check_types(self)
        _check(1 <= self.steps <= 10_000_000, "steps", "must be 1 to 10000000", self.steps)
        _check(self.epochs is None or self.epochs >= 1, "epochs", "must be 1 or more", self.epochs)
        _check(self.time_limit is None or self.time_limit > 0, "time_limit", "must be positive", self.time_limit)
        _check(self.batch_size >= 1, "batch_size", "must be 1 or more", self.batch_size)
        _check(16 <= self.crop_size <= 4096 and self.crop_size % 4 == 0, "crop_size",
               "must be a multiple of 4 from 16 to 4096", self.crop_size)
        _check(self.photo_size is None or 16 <= self.photo_size <= MAX_SIZE, "photo_size",
               f"must be 16 to {MAX_SIZE} px", self.photo_size)
        _check(self.learning_rate > 0, "learning_rate", "must be positive", self.learning_rate)
        _check(self.warmup_steps >= 0, "warmup_steps", "must be 0 or more", self.warmup_steps)
        _check_weights(self, ("content_weight", "style_weight", "tv_weight"))
        _check(16 <= self.style_size <= 4096, "style_size", "must be 16 to 4096 px", self.style_size)
        _check(0 <= self.style_margin <= 0.25, "style_margin", "must be 0 to 0.25", self.style_margin)
        _check(len(self.content_layers) > 0, "content_layers", "needs at least one layer", "")
        _check(len(self.style_layers) > 0, "style_layers", "needs at least one layer", "")
        check_octaves(self.style_octaves)
        blur_problem = base_blur_problem(self.base_blur, self.residual)
        _check(blur_problem is None, "base_blur", str(blur_problem), self.base_blur)
        _check(1 <= self.width <= 256, "width", "must be 1 to 256", self.width)
        _check(0 <= self.residual_blocks <= 32, "residual_blocks", "must be 0 to 32", self.residual_blocks)
        _check(self.checkpoint_every >= 1, "checkpoint_every", "must be 1 or more", self.checkpoint_every)
        _check(0 <= self.validation_count <= 64, "validation_count", "must be 0 to 64", self.validation_count)
        _check(self.workers >= 0, "workers", "must be zero or more", self.workers)
        _check(self.max_pixels > 0, "max_pixels", "must be positive", self.max_pixels)
        check_choices(self)


@dataclass(frozen=True)
class ApplyConfig(Settings):
    """Every setting of running a trained style network over photos."""

    strength: float = _opt(1.0, "blend of the stylised image with the photo: 1 all style, 0 the photo")
    style_weights: tuple[float, ...] | None = _opt(
        None, "blend of a network's styles, one weight per style, comma-separated, scaled to sum to one "
        "(default: the first style alone)")
    preserve_colors: Literal["none", "luminance", "histogram"] = _opt(
        StyleConfig.preserve_colors, "keep the photo's colours: luminance (the stylised luminance with the "
        "photo's chrominance) or histogram (the output's colours matched to the photo's)", choices=PRESERVE_COLORS)
    size: int | None = _opt(None, "long side of the outputs in px (default: each input's own size)")
    # As trained, not 1: a network paints strokes of a size in pixels, learnt on photos of its training size; run on
    # larger photos at 1 they shrink to a texture, and the independent judge preferred every network run at or below
    # its training scale at 512 px, at equal content too (README, "Stroke size").
    stroke_scale: float | None = _opt(
        None, f"run the network on each image shrunk this many times and enlarge its painting back: strokes this many "
        f"times larger, the painting softer ({MIN_STROKE_SCALE:g} to {MAX_STROKE_SCALE:g}) (default: as trained, each "
        f"image shrunk to the size the network's training photos had, at most {MAX_TRAINED_STROKE_SCALE:g} times)")
    batch_size: int = _opt(4, "images of equal size run through the network together")
    precision: Literal["auto", "float32", "bfloat16"] = _opt(
        StyleConfig.precision, "arithmetic of a .safetensors network (an .onnx model runs in float32): "
        "bfloat16 where the hardware has it natively (auto), else float32", choices=PRECISIONS)
    overwrite: bool = _opt(False, OVERWRITE_HELP)
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps (the torch engine)")
    max_pixels: int = _opt(StyleConfig.max_pixels, "refuse input images with more pixels than this")

    def __post_init__(self) -> None:
        check_types(self)
        _check(0 <= self.strength <= 1, "strength", "must be 0 to 1", self.strength)
        if self.style_weights is not None:
            _check(all(w >= 0 for w in self.style_weights) and sum(self.style_weights) > 0, "style_weights",
                   "must be zero or positive and not all zero", self.style_weights)
        _check(self.size is None or MIN_SIZE <= self.size <= MAX_SIZE, "size", f"must be {MIN_SIZE} to {MAX_SIZE} px",
               self.size)
        check_stroke_scale(self.stroke_scale)
        _check(self.batch_size >= 1, "batch_size", "must be 1 or more", self.batch_size)
        _check(self.max_pixels > 0, "max_pixels", "must be positive", self.max_pixels)
        check_choices(self)

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        """See upgrade_stroke_scale."""
        return upgrade_stroke_scale(values, version)


def check_stroke_scale(value: float | None) -> None:
    """Raise SettingError unless ``value`` is None (as trained) or MIN_STROKE_SCALE to MAX_STROKE_SCALE."""
    _check(value is None or MIN_STROKE_SCALE <= value <= MAX_STROKE_SCALE, "stroke_scale",
           f"must be {MIN_STROKE_SCALE:g} to {MAX_STROKE_SCALE:g}", value)


def upgrade_stroke_scale(values: dict[str, Any], version: int) -> dict[str, Any]:
    """Settings of an older ``version`` in their own meaning: before version 4 a network ran at each image's own
    size (stroke scale 1) unless they said otherwise."""
    return {"stroke_scale": 1.0, **values} if version < 4 else values
