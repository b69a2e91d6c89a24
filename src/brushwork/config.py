"""StyleConfig: the one home of every default of a style transfer run, validated once.

The CLI builds its options from these fields (name ``style_weight`` -> ``--style-weight``, help from
the field's metadata), and the Python API takes the same names as keyword arguments.
"""

from __future__ import annotations

import numbers
import os
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from brushwork.errors import BrushworkError

MIN_SIZE, MAX_SIZE = 32, 8192
#: The default plan halves the size until it is at most this many px: most iterations run there,
#: at a quarter of the cost of each finer scale (README, "Speed").
COARSEST = 300
#: What ``--quality`` sets, unless the same options are given explicitly; normal is the defaults.
QUALITY_PRESETS: dict[str, dict[str, Any]] = {
    "draft": {"size": 256, "scale_iterations": (60, 25), "tolerance": 3e-3},
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
INIT_KEYWORDS = ("content", "noise", "style")


def _opt(default: Any, help: str, **extra: Any) -> Any:
    """A dataclass field with its CLI help text (and optional ``choices``) in its metadata."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class StyleConfig:
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
    init: str = _opt("content", "starting image: content, noise, style, or an image file (e.g. an earlier output)")
    seed: int = _opt(0, "random seed for the noise start; equal seeds give equal results on one machine")
    content_weight: float = _opt(1.0, "alpha: weight of the content loss")
    style_weight: float = _opt(30.0, "beta: weight of the style loss")
    tv_weight: float = _opt(5.0, "gamma: weight of the total-variation (smoothness) loss")
    style_scale: float = _opt(1.0, "size of the style image relative to the output (0.25 to 4): larger "
                              "gives larger brush strokes")
    style_blend: tuple[float, ...] | None = _opt(
        None, "relative weight of each style image, comma-separated (default: equal)")
    style_masks: tuple[str, ...] | None = _opt(
        None, "one mask image per style, comma-separated: white where that style applies (soft edges work)")
    content_mask: str | None = _opt(None, "mask image: white where the content matters, black where it does not")
    preserve_colors: Literal["none", "luminance", "histogram"] = _opt(
        "none", "keep the content's colours: luminance (transfer on luminance only) or histogram (match the "
        "style's colours to the content's first)", choices=("none", "luminance", "histogram"))
    content_layers: tuple[str, ...] = _opt(("relu4_2",), "layers of the content loss, comma-separated")
    style_layers: tuple[str, ...] = _opt(
        ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), "layers of the style loss, comma-separated")
    style_layer_weights: tuple[float, ...] | None = _opt(
        None, "relative weight of each style layer, comma-separated (default: equal)")
    weights: str = _opt("vgg16-hed", "backbone weights: a source name (see `brushwork weights list`) or a file")
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
        choices=("auto", "float32", "bfloat16"))
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
        _check(MIN_SIZE <= self.size <= MAX_SIZE, "--size", f"must be {MIN_SIZE} to {MAX_SIZE} px", self.size)
        _check(1 <= self.iterations <= 100_000, "--iterations", "must be 1 to 100000", self.iterations)
        _check(self.scales is None or 1 <= self.scales <= 8, "--scales", "must be 1 to 8", self.scales)
        if self.scale_iterations is not None:
            _check(all(1 <= i <= 100_000 for i in self.scale_iterations) and len(self.scale_iterations) > 0,
                   "--scale-iterations", "must be 1 to 100000 each", self.scale_iterations)
            _check(self.scales in (None, len(self.scale_iterations)), "--scale-iterations",
                   f"needs one count per scale ({self.scales})", self.scale_iterations)
        # Refused rather than capped: scales below MIN_SIZE px would all be MIN_SIZE px, the same work repeated.
        most = max(count for count in range(1, 9) if len(set(self._sizes(count))) == count)
        count = self.scales or len(self.scale_iterations or ())
        _check(count <= most, "--scales" if self.scales else "--scale-iterations",
               f"--size {self.size} allows at most {most} distinct scale(s), each half the next and at least "
               f"{MIN_SIZE} px", count)
        _check(0.25 <= self.style_scale <= 4, "--style-scale", "must be 0.25 to 4", self.style_scale)
        if self.style_blend is not None:
            _check(all(w >= 0 for w in self.style_blend) and sum(self.style_blend) > 0, "--style-blend",
                   "must be zero or positive and not all zero", self.style_blend)
        _check(self.learning_rate > 0, "--learning-rate", "must be positive", self.learning_rate)
        _check_weights(self, ("content_weight", "style_weight", "tv_weight"))
        _check(len(self.content_layers) > 0, "--content-layers", "needs at least one layer", "")
        _check(len(self.style_layers) > 0, "--style-layers", "needs at least one layer", "")
        if self.style_layer_weights is not None:
            _check(len(self.style_layer_weights) == len(self.style_layers), "--style-layer-weights",
                   f"needs one weight per style layer ({len(self.style_layers)})", self.style_layer_weights)
            _check(all(w >= 0 for w in self.style_layer_weights) and sum(self.style_layer_weights) > 0,
                   "--style-layer-weights", "must be zero or positive and not all zero", self.style_layer_weights)
        _check(self.max_pixels > 0, "--max-pixels", "must be positive", self.max_pixels)
        _check(0 <= self.tolerance < 1, "--tolerance", "must be 0 to 1", self.tolerance)
        check_choices(self)

    @classmethod
    def for_quality(cls, quality: str = "normal", **options: Any) -> StyleConfig:
        """The ``quality`` preset (draft, normal or high; see QUALITY_PRESETS) with ``options`` on top."""
        _check(quality in QUALITY_PRESETS, "--quality", f"must be one of {', '.join(QUALITY_PRESETS)}", quality)
        return cls(**{**QUALITY_PRESETS[quality], **options})

    def layer_weights(self) -> dict[str, float]:
        """{style layer: weight}, the weights scaled to sum to one (the paper's w_l = 1/5)."""
        raw = self.style_layer_weights or (1.0,) * len(self.style_layers)
        total = sum(raw)
        return {layer: w / total for layer, w in zip(self.style_layers, raw)}

    def check_styles(self, count: int) -> None:
        """Raise a one-line error unless there are style images and the blend weights and masks match
        their ``count``."""
        _check(count > 0, "style", "needs at least one style image", "")
        for option, values in (("--style-blend", self.style_blend), ("--style-masks", self.style_masks)):
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

    def as_metadata(self) -> dict[str, str]:
        """Every setting as strings, to embed in output files."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
            _check(False, _flag(f.name), f"must be {_kind(hint)}, not {e}", repr(value))


def check_choices(config: Any) -> None:
    """Raise a one-line error for a field of the ``config`` dataclass whose value is not one of its
    ``choices`` (None allowed where the field's default is None)."""
    for f in fields(config):
        choices = f.metadata.get("choices")
        value = getattr(config, f.name)
        if choices is not None:
            _check(value in choices or (value is None and f.default is None), _flag(f.name),
                   f"must be one of {', '.join(choices)}", value)


def _check_weights(config: Any, names: tuple[str, ...]) -> None:
    """Raise a one-line error unless each named loss weight of ``config`` is zero or positive and finite."""
    for name in names:
        value = getattr(config, name)
        _check(0 <= value < float("inf"), _flag(name), "must be zero or positive", value)


def _check(ok: bool, option: str, problem: str, value: object) -> None:
    if not ok:
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value  # as the option is written
        raise BrushworkError(f"{option} {shown}: {problem}".replace(" :", ":"))


@dataclass(frozen=True)
class AudioConfig:
    """Every setting of an audio style transfer or texture synthesis (Ulyanov and Lebedev 2016).

    A log-magnitude spectrogram is a 1-D image whose frequency bins are channels; one wide random
    convolution and a ReLU give the features (README, "Audio style transfer", for how the defaults
    were measured).
    """

    sample_rate: int = _opt(22050, "working sample rate in Hz; inputs are resampled to it, the output back "
                            "to the content's rate")
    n_fft: int = _opt(2048, "STFT size in samples: n_fft/2+1 frequency bins are the feature channels")
    hop_length: int = _opt(512, "STFT hop in samples: one spectrogram frame per hop")
    # Ulyanov and Lebedev use 4096 filters; 1024 cost a quarter of the time per iteration on a CPU
    # (the Gram matrix grows with their square) and still lowered the style loss 30x (README).
    filters: int = _opt(1024, "random convolution filters, the feature channels (Ulyanov and Lebedev: 4096)")
    filter_width: int = _opt(11, "width of each filter in spectrogram frames, odd (Ulyanov and Lebedev: 11)")
    content_weight: float = _opt(1.0, "alpha: weight of the content loss; 0 makes a texture the length of "
                                 "the content")
    style_weight: float = _opt(10.0, "beta: weight of the style loss")
    # The style loss of the demo had fallen to within 2% of its value at 200 steps by step 100.
    iterations: int = _opt(100, "L-BFGS steps on the spectrogram (per chunk of a long input)")
    init: Literal["content", "noise"] = _opt(
        "content", "starting spectrogram: the content's or noise (a texture always starts from noise)",
        choices=("content", "noise"))
    optimizer: Literal["lbfgs", "adam"] = _opt("lbfgs", "optimiser on the spectrogram", choices=("lbfgs", "adam"))
    learning_rate: float = _opt(0.05, "Adam step size, in units of log(1 + magnitude) (L-BFGS takes 1)")
    griffin_lim_iterations: int = _opt(100, "fast Griffin-Lim iterations that recover the phase")
    seed: int = _opt(0, "random seed of the filters, the noise start and the Griffin-Lim start phase")
    duration: float = _opt(10.0, "length of a synthesised texture in seconds (texture only)")
    chunk_seconds: float = _opt(20.0, "inputs longer than this are optimised in chunks of this length, "
                                "which bounds memory")
    chunk_overlap: float = _opt(2.0, "seconds by which neighbouring chunks overlap; they are cross-faded there")
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps")

    def __post_init__(self) -> None:
        check_types(self)
        _check(4000 <= self.sample_rate <= 192_000, "--sample-rate", "must be 4000 to 192000 Hz", self.sample_rate)
        _check(16 <= self.n_fft <= 16384, "--n-fft", "must be 16 to 16384", self.n_fft)
        _check(1 <= self.hop_length <= self.n_fft, "--hop-length", f"must be 1 to --n-fft ({self.n_fft})",
               self.hop_length)
        _check(1 <= self.filters <= 16384, "--filters", "must be 1 to 16384", self.filters)
        _check(1 <= self.filter_width <= 255 and self.filter_width % 2 == 1, "--filter-width",
               "must be odd, 1 to 255", self.filter_width)
        _check_weights(self, ("content_weight", "style_weight"))
        _check(1 <= self.iterations <= 100_000, "--iterations", "must be 1 to 100000", self.iterations)
        _check(1 <= self.griffin_lim_iterations <= 10_000, "--griffin-lim-iterations", "must be 1 to 10000",
               self.griffin_lim_iterations)
        _check(self.learning_rate > 0, "--learning-rate", "must be positive", self.learning_rate)
        _check(0 < self.duration <= 3600, "--duration", "must be above 0 and at most 3600 s", self.duration)
        _check(0 <= self.chunk_overlap, "--chunk-overlap", "must be zero or positive", self.chunk_overlap)
        _check(self.chunk_seconds >= 2 * self.chunk_overlap and self.chunk_seconds > 0, "--chunk-seconds",
               f"must be positive and at least twice --chunk-overlap ({self.chunk_overlap})", self.chunk_seconds)
        check_choices(self)

    def frames(self, seconds: float) -> int:
        """The number of spectrogram frames (hops) in ``seconds``, at least 1."""
        return max(1, round(seconds * self.sample_rate / self.hop_length))
