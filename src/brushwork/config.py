"""StyleConfig: the one home of every default of a style transfer run, validated once; and
:class:`Settings`, the JSON form that every settings dataclass shares.

The CLI builds its options from these fields (name ``style_weight`` -> ``--style-weight``, help from
the field's metadata), and the Python API takes the same names as keyword arguments. A bad value
raises a :class:`SettingError` naming the field (``size 0: must be 32 to 8192 px``).
"""

from __future__ import annotations

import numbers
import os
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

from brushwork.errors import BrushworkError, SettingError

MIN_SIZE, MAX_SIZE = 32, 8192
#: The default plan halves the size until it is at most this many px: most iterations run there,
#: at a quarter of the cost of each finer scale (README, "Speed").
COARSEST = 300
#: What ``--quality`` sets, unless the same options are given explicitly; normal is the defaults.
QUALITY_PRESETS: dict[str, dict[str, Any]] = {
    "draft": {"size": 256, "scale_iterations": (45, 20), "tolerance": 3e-3},
    "normal": {},
    "high": {"iterations": 1000, "tolerance": 0.0, "precision": "float32"},
}
#: Scales up to this long side in px each get the full ``iterations``; each finer scale, whose
#: iterations cost four times as much, gets half the previous scale's (README, "Speed").
FULL_ITERATIONS_UP_TO = 512
#: The coarsest of several scales only lays out the composition that the next one repaints, so
#: it gets this share of ``iterations`` (measured: README, "Speed").
COARSEST_SHARE = 2 / 3
#: Early stopping looks at the improvement of the total loss over this many iterations.
PATIENCE = 25
#: A run whose total loss stays more than SPIKE (a fraction) above its best for SPIKE_STEPS
#: evaluations in a row is diverging, and goes back to its best iterate (transfer.BestIterate).
SPIKE, SPIKE_STEPS = 0.1, 5
#: The start images that ``init`` names; any other value of ``init`` is an image file.
INIT_KEYWORDS = ("palette", "content", "noise", "style")
#: The standard deviation of the noise start around the content's mean colour (transfer.noise_image).
NOISE_STD = 0.02
#: The layout term compares light and dark at 1/LAYOUT_FACTOR of the output's size (losses.LayoutLoss).
LAYOUT_FACTOR = 8
#: The layout weight of a noise start (StyleConfig.effective_layout_weight).
NOISE_LAYOUT_WEIGHT = 1.0
#: How stylize and apply keep the content's colours (Gatys, Bethge, Hertzmann, Shechtman 2016).
PRESERVE_COLORS = ("none", "luminance", "histogram")
#: The arithmetic of the networks (hardware.compute_dtype decides what auto means).
PRECISIONS = ("auto", "float32", "bfloat16")
#: What the total variation term is measured against (StyleConfig.tv_relative_to).
TV_RELATIVE_TO = ("painting", "none")
#: The JSON form's format version (Settings.to_dict); a newer one is refused by from_dict.
SETTINGS_VERSION = 4
#: Total variation of a painting below which it counts as this smooth (a flat painting would make the relative
#: term infinite); the smoothest reference painting, The Scream at 512 px, has 0.0028.
TV_FLOOR = 1e-4

S = TypeVar("S", bound="Settings")


class Settings:
    """The JSON form of a frozen settings dataclass: ``to_dict()`` and ``from_dict()``.

    ``to_dict()`` holds ``"settings"`` (the class name), ``"version"`` (:data:`SETTINGS_VERSION`)
    and every field, tuples as lists; ``from_dict`` gives back an equal object (tuples as tuples) and
    refuses another class, a newer version, unknown keys and values of the wrong kind (``check_types``
    in each class's ``__post_init__``). Keys left out take their defaults.
    """

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: str, int, float, bool, None and lists of them."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return {"settings": type(self).__name__, "version": SETTINGS_VERSION,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}}

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any]) -> S:
        """The settings that ``to_dict`` wrote (validated as any other)."""
        if not isinstance(data, dict):
            raise BrushworkError(f"{cls.__name__}: settings must be a JSON object, not {type(data).__name__}")
        kind, version = data.get("settings", cls.__name__), data.get("version", SETTINGS_VERSION)
        if kind != cls.__name__:
            raise BrushworkError(f"settings of {kind}, not of {cls.__name__}")
        if not isinstance(version, int) or version > SETTINGS_VERSION:
            raise BrushworkError(f"{cls.__name__} settings version {version} is newer than this brushwork reads "
                                 f"({SETTINGS_VERSION}): upgrade brushwork")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        values = cls.upgrade({key: value for key, value in data.items() if key not in ("settings", "version")},
                             version)
        for key in values:
            if key not in names:
                raise SettingError.of(key, "", f"not a setting of {cls.__name__}")
        return cls(**values)  # check_types turns JSON lists back into tuples and refuses other kinds

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        """The fields of settings written at an older ``version``, in the meaning of the current one."""
        return values


def upgrade_weights(values: dict[str, Any], version: int) -> dict[str, Any]:
    """Settings of an older ``version`` in their own meaning: versions 1 and 2 meant the HED VGG-16 unless they
    named weights."""
    return {"weights": "vgg16-hed", **values} if version < 3 else values


def upgrade_engine(values: dict[str, Any], version: int) -> dict[str, Any]:
    """An engine's settings of an older ``version`` in their own meaning: version 1 measured the total
    variation absolutely (5 unless given); see also upgrade_weights."""
    if version < 2:
        values = {"tv_weight": 5.0, **values, "tv_relative_to": "none"}
    return upgrade_weights(values, version)


def _opt(default: Any, help: str, **extra: Any) -> Any:
    """A dataclass field with its CLI help text (and optional ``choices``) in its metadata."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class StyleConfig(Settings):
    """Every setting of an optimisation-based style transfer (Gatys et al. 2015)."""

    size: int = _opt(512, "long side of the output in pixels; the content's aspect ratio is kept")
    iterations: int = _opt(300, "optimiser steps (one loss evaluation each) of each scale up to "
                           f"{FULL_ITERATIONS_UP_TO} px; the coarsest of several gets two thirds")
    scales: int | None = _opt(
        None, "coarse-to-fine scales, each twice the size of the one before (default: as many as start "
        f"at {COARSEST} px or less)")
    scale_iterations: tuple[int, ...] | None = _opt(
        None, f"iterations of each scale, coarse to fine (default: --iterations up to {FULL_ITERATIONS_UP_TO} px, "
        "two thirds of it at the coarsest of several, then half the previous scale's at each finer scale, at "
        "least 50: each costs four times as much)")
    optimizer: Literal["lbfgs", "adam"] = _opt("lbfgs", "optimiser on the pixels", choices=("lbfgs", "adam"))
    learning_rate: float = _opt(0.02, "Adam step size, in pixel units of the [0,1] range (L-BFGS takes 1)")
    # The photo in the painting's colours: the optimisation need not find the palette. Against the photo
    # start it scored better on content in all four reference pairs and on style on average (README,
    # "Independent quality score").
    init: str = _opt("palette", "starting image: palette (the content in the style's colours), content, noise, "
                     "style, or an image file (e.g. an earlier output)")
    seed: int = _opt(0, "random seed for the noise start; equal seeds give equal results on one machine")
    content_weight: float = _opt(1.0, "alpha: weight of the content loss")
    style_weight: float = _opt(30.0, "beta: weight of the style loss")
    # Relative to the painting's since settings version 2: each reference pair scored best with the absolute weight
    # (5 or 0.5) that left its output about as rough as its painting, and 0.015 relative is 5 for The Scream and
    # 0.5 for The Starry Night (README, "Sixth round").
    tv_weight: float = _opt(0.015, "gamma: weight of the total-variation (smoothness) loss (see --tv-relative-to)")
    tv_relative_to: Literal["painting", "none"] = _opt(
        "painting", "painting: the total variation of the output divided by that of the painting at the same size "
        "(blended over several), so a rough painting allows a rough output; none: the output's own (the "
        "meaning of --tv-weight in settings before version 2)", choices=TV_RELATIVE_TO)
    # The VGG content layer holds edges, not the light and dark of flat regions: without this term the
    # subject dissolved from a noise start. From the photo the start holds them, and the term cost style
    # on The Scream (README, "Losses and the choice of defaults").
    layout_weight: float | None = _opt(
        None, f"weight of the layout term: the output's light and dark, blurred to 1/{LAYOUT_FACTOR} of its size, "
        f"against the photo's in the painting's palette (default: {NOISE_LAYOUT_WEIGHT:g} from a noise start, which "
        "would lose the subject without it, else 0)")
    style_scale: float = _opt(1.0, "size of the style image relative to the output (0.25 to 4): larger "
                              "gives larger brush strokes")
    # One size, as the paper: matching the halved output too (e.g. 1,3) gave bolder, larger strokes and
    # better style scores but worse content scores in all four pairs measured (README, "Octaves").
    style_octaves: tuple[float, ...] = _opt(
        (1.0,), "weight of the style loss at the output's size, then with the output and the painting halved, "
        "then quartered, comma-separated (1 to 3 weights; 1,3 gives larger, bolder strokes)")
    style_blend: tuple[float, ...] | None = _opt(
        None, "relative weight of each style image, comma-separated (default: equal)")
    style_masks: tuple[str, ...] | None = _opt(
        None, "one mask image per style, comma-separated: white where that style applies (soft edges work)")
    content_mask: str | None = _opt(None, "mask image: white where the content matters, black where it does not")
    preserve_colors: Literal["none", "luminance", "histogram"] = _opt(
        "none", "keep the content's colours: luminance (transfer on luminance only) or histogram (match the "
        "style's colours to the content's first)", choices=PRESERVE_COLORS)
    content_layers: tuple[str, ...] = _opt(("relu4_2",), "layers of the content loss, comma-separated")
    style_layers: tuple[str, ...] = _opt(
        ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), "layers of the style loss, comma-separated")
    style_layer_weights: tuple[float, ...] | None = _opt(
        None, "relative weight of each style layer, comma-separated (default: equal)")
    # The ImageNet VGG-19 paints the painting's strokes where HED's VGG-16, whose first blocks were tuned to
    # edges, painted fine ripples (README, "Seventh round").
    weights: str = _opt("vgg19-caffe-q8", "backbone weights: a source name (see `brushwork weights list`) or a "
                        "file")
    # Gatys et al. prefer average pooling; with these weights max pooling gave crisper strokes and
    # kept more of the content at equal style loss (README, "Choosing the defaults").
    pooling: Literal["avg", "max"] = _opt("max", "pooling in the backbone (Gatys et al. use avg)",
                                          choices=("avg", "max"))
    preprocessing: Literal["caffe", "imagenet"] | None = _opt(
        None, "input convention of a --weights file (default: caffe for .h5, imagenet for PyTorch files)",
        choices=("caffe", "imagenet"))
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps")
    precision: Literal["auto", "float32", "bfloat16"] = _opt(
        "auto", "arithmetic of the network: bfloat16 halves the time where the hardware has it (CPUs with "
        "AVX-512 BF16 or AMX, recent GPUs) at equal final losses; auto picks it there, else float32",
        choices=PRECISIONS)
    tolerance: float = _opt(
        5e-4, "stop a scale early once the total loss fell by less than this fraction over the last "
        f"{PATIENCE} iterations (0: always run every iteration)")
    checkpointing: Literal["auto", "on", "off"] = _opt(
        "auto", "recompute the network's activations during the backward pass instead of keeping them: "
        "about half their memory (2048 px: 4.8 GiB in all, 3.3 GiB with it) for about one more forward "
        "pass of time; auto turns it on only when the run would not fit in memory otherwise",
        choices=("auto", "on", "off"))
    max_pixels: int = _opt(100_000_000, "refuse input images with more pixels than this (decompression bombs)")

    def __post_init__(self) -> None:
        check_types(self)
        _check(MIN_SIZE <= self.size <= MAX_SIZE, "size", f"must be {MIN_SIZE} to {MAX_SIZE} px", self.size)
        _check(1 <= self.iterations <= 100_000, "iterations", "must be 1 to 100000", self.iterations)
        _check(self.scales is None or 1 <= self.scales <= 8, "scales", "must be 1 to 8", self.scales)
        if self.scale_iterations is not None:
            _check(all(1 <= i <= 100_000 for i in self.scale_iterations) and len(self.scale_iterations) > 0,
                   "scale_iterations", "must be 1 to 100000 each", self.scale_iterations)
            _check(self.scales in (None, len(self.scale_iterations)), "scale_iterations",
                   f"needs one count per scale ({self.scales})", self.scale_iterations)
        # Refused rather than capped: scales below MIN_SIZE px would all be MIN_SIZE px, the same work repeated.
        most = max(count for count in range(1, 9) if len(set(self._sizes(count))) == count)
        count = self.scales or len(self.scale_iterations or ())
        _check(count <= most, "scales" if self.scales else "scale_iterations",
               f"size {self.size} allows at most {most} distinct scale(s), each half the next and at least "
               f"{MIN_SIZE} px", count)
        _check(0.25 <= self.style_scale <= 4, "style_scale", "must be 0.25 to 4", self.style_scale)
        check_octaves(self.style_octaves)
        if self.style_blend is not None:
            _check(all(w >= 0 for w in self.style_blend) and sum(self.style_blend) > 0, "style_blend",
                   "must be zero or positive and not all zero", self.style_blend)
        _check(self.learning_rate > 0, "learning_rate", "must be positive", self.learning_rate)
        _check_weights(self, ("content_weight", "style_weight", "tv_weight"))
        if self.layout_weight is not None:
            _check_weights(self, ("layout_weight",))
        _check(len(self.content_layers) > 0, "content_layers", "needs at least one layer", "")
        _check(len(self.style_layers) > 0, "style_layers", "needs at least one layer", "")
        if self.style_layer_weights is not None:
            _check(len(self.style_layer_weights) == len(self.style_layers), "style_layer_weights",
                   f"needs one weight per style layer ({len(self.style_layers)})", self.style_layer_weights)
            _check(all(w >= 0 for w in self.style_layer_weights) and sum(self.style_layer_weights) > 0,
                   "style_layer_weights", "must be zero or positive and not all zero", self.style_layer_weights)
        _check(self.max_pixels > 0, "max_pixels", "must be positive", self.max_pixels)
        _check(0 <= self.tolerance < 1, "tolerance", "must be 0 to 1", self.tolerance)
        check_choices(self)

    @classmethod
    def for_quality(cls, quality: str = "normal", **options: Any) -> StyleConfig:
        """The ``quality`` preset (draft, normal or high; see QUALITY_PRESETS) with ``options`` on top."""
        _check(quality in QUALITY_PRESETS, "quality", f"must be one of {', '.join(QUALITY_PRESETS)}", quality)
        return cls(**{**QUALITY_PRESETS[quality], **options})

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        """See upgrade_engine: the total variation of version 1, the backbone of versions 1 and 2."""
        return upgrade_engine(values, version)

    def effective_layout_weight(self) -> float:
        """``layout_weight``, or its default: NOISE_LAYOUT_WEIGHT from a noise start, else 0."""
        if self.layout_weight is not None:
            return self.layout_weight
        return NOISE_LAYOUT_WEIGHT if self.init == "noise" else 0.0

    def layer_weights(self) -> dict[str, float]:
        """{style layer: weight}, the weights scaled to sum to one (the paper's w_l = 1/5)."""
        raw = self.style_layer_weights or (1.0,) * len(self.style_layers)
        total = sum(raw)
        return {layer: w / total for layer, w in zip(self.style_layers, raw)}

    def check_styles(self, count: int) -> None:
        """Raise a one-line error unless there are style images and the blend weights and masks match
        their ``count``."""
        _check(count > 0, "style", "needs at least one style image", "")
        for option, values in (("style_blend", self.style_blend), ("style_masks", self.style_masks)):
            _check(values is None or len(values) == count, option,
                   f"needs one value per style image ({count})", ",".join(map(str, values or ())))

    def blend_weights(self, count: int) -> list[float]:
        """The weight of each of ``count`` styles, scaled to sum to one."""
        self.check_styles(count)
        raw = self.style_blend or (1.0,) * count
        return [w / sum(raw) for w in raw]

    def plan_scales(self) -> list[tuple[int, int]]:
        """[(long side in px, iterations)] coarse to fine, ending at ``size`` (Gatys et al. 2017)."""
        count = self.scales or (len(self.scale_iterations) if self.scale_iterations else None)
        if count is None:
            count = 1
            while self.size / 2 ** (count - 1) > COARSEST:
                count += 1
        sizes = self._sizes(count)
        iterations = list(self.scale_iterations or [])
        if not iterations:
            iterations = [self.iterations]
            for size in sizes[1:]:
                iterations.append(self.iterations if size <= FULL_ITERATIONS_UP_TO else max(50, iterations[-1] // 2))
            if count > 1:
                iterations[0] = max(1, round(iterations[0] * COARSEST_SHARE))
        return list(zip(sizes, iterations))

    def _sizes(self, count: int) -> list[int]:
        """The long side in px of each of ``count`` scales, coarse to fine, each half the next."""
        return [max(MIN_SIZE, round(self.size / 2 ** (count - 1 - k))) for k in range(count)]


#: A value of each field type, in words: (one, several).
_KINDS = {bool: ("True or False", "flags"), int: ("a whole number", "whole numbers"), float: ("a number", "numbers"),
          str: ("text or a path", "texts or paths")}


def _kind(hint: Any) -> str:
    """What a value of the type ``hint`` is, in words."""
    if typing.get_origin(hint) is tuple:
        return f"a list of {_KINDS[typing.get_args(hint)[0]][1]}"
    return _KINDS[hint][0]


def _coerce(hint: Any, value: Any) -> Any:
    """``value`` as the type ``hint`` (int, float, str, bool, Literal, tuple[X, ...] or Optional of
    one) takes it; raises TypeError for a value of another type. A path becomes text; a single value
    where a tuple is expected becomes a 1-tuple, so that ``style_masks="mask.png"`` is one mask."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        if value is None:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value)
    if origin is Literal:
        return value  # check_choices names the choices
    if origin is tuple:
        items = value if isinstance(value, (list, tuple)) else (value,)
        return tuple(_coerce(args[0], item) for item in items)
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if hint is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value if isinstance(value, (int, float)) else float(value)  # an int is a float (PEP 484)
    if hint is str and isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError(type(value).__name__)


def check_types(config: Any) -> None:
    """Raise a one-line error for a field of the ``config`` dataclass whose value is not of its
    annotated type; convert the values that stand for one (see ``_coerce``) in place."""
    hints = typing.get_type_hints(type(config))
    for f in fields(config):
        value = getattr(config, f.name)
        try:
            object.__setattr__(config, f.name, _coerce(hints[f.name], value))
        except TypeError as e:
            hint = hints[f.name]
            optional = typing.get_origin(hint) is typing.Union or isinstance(hint, types.UnionType)
            hint = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
            _check(False, f.name, f"must be {_kind(hint)}, not {e}", repr(value))


def check_choices(config: Any) -> None:
    """Raise a one-line error for a field of the ``config`` dataclass whose value is not one of its
    ``choices`` (None allowed where the field's default is None)."""
    for f in fields(config):
        choices = f.metadata.get("choices")
        value = getattr(config, f.name)
        if choices is not None:
            _check(value in choices or (value is None and f.default is None), f.name,
                   f"must be one of {', '.join(choices)}", value)


def check_octaves(weights: tuple[float, ...]) -> None:
    """Raise a one-line error unless ``weights`` (a style_octaves setting) are 1 to 3, none negative, not all 0."""
    _check(1 <= len(weights) <= 3 and all(w >= 0 for w in weights) and sum(weights) > 0, "style_octaves",
           "must be 1 to 3 weights >= 0, not all 0", weights)


def active_octaves(weights: tuple[float, ...], short_side: int) -> list[int]:
    """The octaves a style loss of ``weights`` (a style_octaves setting) compares on images ``short_side`` px on
    their short side, k for the image and the styles halved k times: the full size always, a halved one where it
    has weight and keeps MIN_SIZE px or more (below that its deepest layers are a pixel or two)."""
    return [0] + [k for k, weight in enumerate(weights) if k > 0 and weight > 0 and short_side >> k >= MIN_SIZE]


def _check_weights(config: Any, names: tuple[str, ...]) -> None:
    """Raise a one-line error unless each named loss weight of ``config`` is zero or positive and finite."""
    for name in names:
        value = getattr(config, name)
        _check(0 <= value < float("inf"), name, "must be zero or positive", value)


def _check(ok: bool, name: str, problem: str, value: object) -> None:
    """Raise a SettingError ``"{name} {value}: {problem}"`` unless ``ok``."""
    if not ok:
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value  # as the option is written
        raise SettingError.of(name, shown, problem)
