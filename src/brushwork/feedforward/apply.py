"""Stylising with a trained network: one forward pass per batch, then the strength and colour options.

An *engine* is any function [B,3,H,W] -> [B,3,H,W] (RGB in [0,1], H and W multiples of 4) on the
CPU: the PyTorch network here, or an exported ONNX model (``onnx_export.OnnxEngine``); both go through
the same padding, blending and saving, so their outputs differ only by the engines' arithmetic.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from brushwork.colour import match_colour, recombine
from brushwork.errors import BrushworkError
from brushwork.feedforward.config import MAX_TRAINED_STROKE_SCALE, MIN_STROKE_SCALE, ApplyConfig
from brushwork.feedforward.data import photo_scale
from brushwork.feedforward.model_file import StyleNetwork, load_style_network, style_blend
from brushwork.feedforward.network import pad_to_multiple
from brushwork.hardware import compute_dtype, resolve_device
from brushwork.image import OUTPUT_FORMATS, ImageSource, load_image, resize, resize_long_side, save_image, to_pil
from brushwork.outputs import check_not_inputs, check_output_file, check_writable_folder
from brushwork.progress import Callback, CancelToken, Clock, ProgressEvent, check_cancel
from brushwork.recording import provenance

Engine = Callable[[torch.Tensor], torch.Tensor]
#: Suffixes taken as images inside an input folder; other files there are left alone.
INPUT_SUFFIXES = frozenset({*OUTPUT_FORMATS, ".bmp", ".gif"})


class TorchEngine:
    """A StyleNetwork as an engine: CPU tensors in and out, the network on ``device`` (a copy if the
    model's is elsewhere: a model may serve several jobs) in ``dtype`` (bfloat16: under autocast), its
    styles blended by ``style_weights`` (see ``style_blend``)."""

    def __init__(self, model: StyleNetwork, device: torch.device, dtype: torch.dtype = torch.float32,
                 style_weights: tuple[float, ...] | None = None) -> None:
        here = next(model.net.parameters()).device
        same = here.type == device.type and device.index in (None, here.index)
        self.net = model.net if same else copy.deepcopy(model.net).to(device)
        self.device, self.dtype = device, dtype
        self.metadata = model.metadata
        self.blend = style_blend(style_weights, model.metadata).to(device)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            return self.net(x.to(self.device), self.blend).float().cpu()


def run_padded(engine: Engine, rgb: torch.Tensor) -> torch.Tensor:
    """Run ``engine`` on [B,3,H,W] of any size: reflect-padded to multiples of 4, cropped back."""
    padded, (height, width) = pad_to_multiple(rgb)
    return engine(padded)[..., :height, :width]


def trained_stroke_scale(metadata: Mapping[str, Any], height: int, width: int) -> float:
    """The stroke scale at which a network with model-file ``metadata`` sees an image of ``height`` x ``width`` px at
    the size its training photos had: 1 over the factor its training would have scaled the image by
    (``data.photo_scale``: the short side to the crop size, or the long side to ``photo_size``), kept within
    MIN_STROKE_SCALE to MAX_TRAINED_STROKE_SCALE; 1 where the file does not say how it was trained."""
    settings = metadata.get("settings", {})
    if not settings.get("crop_size"):
        return MIN_STROKE_SCALE
    scale = 1 / photo_scale(height, width, settings["crop_size"], settings.get("photo_size"))
    return min(max(scale, MIN_STROKE_SCALE), MAX_TRAINED_STROKE_SCALE)


def paint(engine: Engine, content: torch.Tensor, config: ApplyConfig, metadata: Mapping[str, Any]) -> torch.Tensor:
    """The finished output [B,3,H,W] in [0,1] for ``content`` (the same shape): ``engine`` (a network with model-file
    ``metadata``) run on it shrunk ``config.stroke_scale`` times (by default as trained: :func:`trained_stroke_scale`)
    and its painting enlarged back where that is above 1, then :func:`finish`."""
    return finish(run_at_stroke_scale(engine, content, config.stroke_scale, metadata), content, config)


def run_at_stroke_scale(engine: Engine, content: torch.Tensor, stroke_scale: float | None,
                        metadata: Mapping[str, Any]) -> torch.Tensor:
    """``engine``'s painting [B,3,H,W] of ``content`` (the same shape, in [0,1]), run on it shrunk ``stroke_scale``
    times (None: as trained, :func:`trained_stroke_scale` with the network's ``metadata``) and enlarged back."""
    height, width = content.shape[-2:]
    scale = trained_stroke_scale(metadata, height, width) if stroke_scale is None else stroke_scale
    if scale == 1:
        return run_padded(engine, content)
    small = resize(content, max(1, round(height / scale)), max(1, round(width / scale)))
    return resize(run_padded(engine, small), height, width)


def finish(styled: torch.Tensor, content: torch.Tensor, config: ApplyConfig) -> torch.Tensor:
    """The options on a network output [B,3,H,W] and its input ``content`` (same shape), both in [0,1]."""
    if config.preserve_colors == "luminance":  # Gatys et al. 2016: the stylised luminance, the photo's I and Q
        styled = recombine(styled, content)
    elif config.preserve_colors == "histogram":  # the output's colour mean and covariance made the photo's
        styled = torch.cat([match_colour(s[None], c[None]) for s, c in zip(styled, content)])
    return content + config.strength * (styled - content) if config.strength < 1 else styled


def open_engine(model: Path | str | StyleNetwork, config: ApplyConfig) -> tuple[Engine, dict[str, Any]]:
    """The engine for ``model``, chosen by what it is: an .onnx file runs with onnxruntime, a
    StyleNetwork or a .safetensors file with PyTorch; and the model's metadata."""
    if not isinstance(model, StyleNetwork) and Path(model).suffix.lower() == ".onnx":
        from brushwork.feedforward.onnx_export import OnnxEngine  # onnxruntime is an extra
        onnx_engine = OnnxEngine(Path(model), config.style_weights)
        return onnx_engine, onnx_engine.metadata
    if not isinstance(model, StyleNetwork):
        model = load_style_network(model)
    device = resolve_device(config.device)
    torch_engine = TorchEngine(model, device, compute_dtype(config.precision, device), config.style_weights)
    return torch_engine, torch_engine.metadata


def apply_style_network(model: Path | str | StyleNetwork, image: ImageSource, config: ApplyConfig | None = None,
                        **options: Any) -> Image.Image:
    """Stylise one image (a path, PIL image, array or tensor, as ``brushwork.stylize`` takes) with a
    trained network (a StyleNetwork or a file). ``options`` override fields of ``config`` (defaults:
    ApplyConfig()), e.g. ``strength=0.7``. Returns RGB (RGBA if the image had transparency)."""
    config = replace(config or ApplyConfig(), **options)
    return stylize_with(*open_engine(model, config), image, config)


def stylize_with(engine: Engine, metadata: Mapping[str, Any], image: ImageSource, config: ApplyConfig) -> Image.Image:
    """Stylise one image with an open ``engine`` and its ``metadata`` (see :func:`open_engine` and
    :func:`apply_style_network`); errors name the file."""
    rgb, alpha = load_image(image, config.max_pixels)
    if config.size is not None:
        rgb = resize_long_side(rgb, config.size)
    return to_pil(paint(engine, rgb, config, metadata), alpha)


def plan_outputs(inputs: Sequence[Path], output: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one input file and an ``output`` with an image suffix give that file;
    otherwise ``output`` is a folder that gets each file under its own name (the files of an input
    folder, recursively, under their paths relative to it). Suffixes we cannot write become .png."""
    def target(name: Path) -> Path:
        return output / output_name(name)

    if len(inputs) == 1 and inputs[0].is_file() and output.suffix.lower() in OUTPUT_FORMATS:
        return [(inputs[0], output)]
    if output.is_file():
        raise BrushworkError(f"-o {output}: is a file; several inputs need a folder")
    pairs: list[tuple[Path, Path]] = []
    for source in inputs:
        if source.is_dir():
            pairs += [(p, target(p.relative_to(source))) for p in sorted(source.rglob("*"))
                      if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES and not p.name.startswith(".")]
        elif source.is_file():
            pairs.append((source, target(Path(source.name))))
        else:
            raise BrushworkError(f"{source}: file not found")
    check_unique_outputs(pairs)
    return pairs


def output_name(name: Path) -> Path:
    """The output of an input named ``name``: the same name, or .png where we cannot write its format."""
    return name if name.suffix.lower() in OUTPUT_FORMATS else name.with_suffix(".png")


def check_unique_outputs(pairs: Iterable[tuple[Path, Path]]) -> None:
    """Raise a one-line error if two (input, output) pairs share an output (a.bmp and a.png -> a.png)."""
    seen: dict[Path, Path] = {}
    for source, dest in pairs:
        if dest in seen:
            raise BrushworkError(f"{source}: its output {dest} would overwrite that of {seen[dest]}")
        seen[dest] = source


def _batches(pairs: Sequence[tuple[Path, Path]], config: ApplyConfig, failed: list[str]
             ) -> Iterator[list[tuple[Path, Path, torch.Tensor, torch.Tensor | None]]]:
    """Consecutive images of equal size, loaded, in batches of up to ``config.batch_size``. An input
    that cannot be read is left out, its one-line error appended to ``failed``."""
    batch: list[tuple[Path, Path, torch.Tensor, torch.Tensor | None]] = []
    for source, dest in pairs:
        try:
            rgb, alpha = load_image(source, config.max_pixels)
        except BrushworkError as error:
            failed.append(str(error))
            continue
        if config.size is not None:
            rgb = resize_long_side(rgb, config.size)
        if batch and (len(batch) == config.batch_size or batch[0][2].shape != rgb.shape):
            yield batch
            batch = []
        batch.append((source, dest, rgb, alpha))
    if batch:
        yield batch


def stylize_files(model: Path, inputs: Sequence[Path], output: Path, config: ApplyConfig, *,
                  callbacks: Iterable[Callback] = (), cancel: CancelToken | None = None
                  ) -> tuple[int, int, list[str]]:
    """Stylise image files and folders into ``output`` (see :func:`plan_outputs`); existing outputs in a
    folder are skipped unless ``config.overwrite``, a single existing output file is an error before any
    work, no output may be an input (checked first), and inputs that cannot be read are passed over, so
    that one bad file does not stop a batch job. Returns (written, skipped, one-line errors of the inputs
    passed over).

    ``callbacks`` get an "apply" ProgressEvent after each image (``frame`` its index in the images to
    do, ``checkpoint`` the file written). A cancelled ``cancel`` stops before the next batch with
    Cancelled whose ``result`` lists the files written; each of them is complete.
    """
    pairs = plan_outputs([Path(p) for p in inputs], Path(output))
    sources = [("model", model), *(("input", source) for source, _ in pairs)]
    if pairs and pairs[0][1] == Path(output):  # one image file: it must not exist unless --overwrite
        check_output_file(output, "-o", sources, config.overwrite, tuple(OUTPUT_FORMATS))
    else:
        check_writable_folder(output, "-o")
        check_not_inputs([dest for _, dest in pairs], "-o", sources)
    todo = [(s, d) for s, d in pairs if config.overwrite or not d.exists()]
    engine, meta = open_engine(model, config)
    callbacks = list(callbacks)
    clock = Clock(len(todo))
    failed: list[str] = []
    written: list[Path] = []
    for batch in _batches(todo, config, failed):
        check_cancel(cancel, len(written), list(written))
        content = torch.cat([rgb for _, _, rgb, _ in batch])
        results = paint(engine, content, config, meta)
        for (source, dest, _, alpha), result in zip(batch, results):
            dest.parent.mkdir(parents=True, exist_ok=True)
            inputs_used = {"content": str(source), "model": Path(model).name, "style": str(meta.get("style", "?"))}
            save_image(to_pil(result[None], alpha), dest, provenance("apply", config, inputs_used))
            written.append(dest)
            elapsed, eta = clock.advance()
            event = ProgressEvent("apply", "images", len(written), len(todo), {}, elapsed, eta,
                                  size=max(result.shape[-2:]), frame=len(written) - 1, checkpoint=str(dest))
            for callback in callbacks:
                callback(event)
    return len(written), len(pairs) - len(todo), failed
