"""Stylising with a trained network: one forward pass per batch, then the strength and colour options.

An *engine* is any function [B,3,H,W] -> [B,3,H,W] (RGB in [0,1], H and W multiples of 4) on the
CPU: the PyTorch network here, or an exported ONNX model (``onnx_export.OnnxEngine``); both go through
the same padding, blending and saving, so their outputs differ only by the engines' arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from brushwork.colour import recombine
from brushwork.errors import BrushworkError
from brushwork.feedforward.config import ApplyConfig
from brushwork.feedforward.model_file import StyleNetwork, load_style_network
from brushwork.feedforward.network import pad_to_multiple
from brushwork.hardware import resolve_device
from brushwork.image import OUTPUT_FORMATS, ImageSource, load_image, resize_long_side, save_image, to_pil
from brushwork.outputs import check_not_inputs, check_output_file, check_writable_folder

Engine = Callable[[torch.Tensor], torch.Tensor]
#: Suffixes taken as images inside an input folder; other files there are left alone.
INPUT_SUFFIXES = frozenset({*OUTPUT_FORMATS, ".bmp", ".gif"})


class TorchEngine:
    """A StyleNetwork as an engine: CPU tensors in and out, the network on ``device``."""

    def __init__(self, model: StyleNetwork, device: torch.device) -> None:
        self.net, self.device = model.net.to(device), device
        self.metadata = model.metadata

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(self.device)).float().cpu()


def run_padded(engine: Engine, rgb: torch.Tensor) -> torch.Tensor:
    """Run ``engine`` on [B,3,H,W] of any size: reflect-padded to multiples of 4, cropped back."""
    padded, (height, width) = pad_to_multiple(rgb)
    return engine(padded)[..., :height, :width]


def finish(styled: torch.Tensor, content: torch.Tensor, config: ApplyConfig) -> torch.Tensor:
    """The options on a network output [B,3,H,W] and its input ``content`` (same shape), both in [0,1]."""
    if config.preserve_colors:  # Gatys et al. 2016: the stylised luminance, the photo's I and Q
        styled = recombine(styled, content)
    return content + config.strength * (styled - content) if config.strength < 1 else styled


def open_engine(model: Path | str | StyleNetwork, config: ApplyConfig) -> tuple[Engine, dict[str, Any]]:
    """The engine that ``config.engine`` names for ``model`` (a .safetensors or, for onnx, an .onnx
    file), and the model's metadata."""
    if config.engine == "onnx":
        from brushwork.feedforward.onnx_export import OnnxEngine  # onnxruntime is an extra
        if isinstance(model, StyleNetwork):
            raise BrushworkError("--engine onnx needs an exported .onnx file (see `brushwork export`)")
        onnx_engine = OnnxEngine(Path(model))
        return onnx_engine, onnx_engine.metadata
    if not isinstance(model, StyleNetwork):
        if Path(model).suffix.lower() == ".onnx":
            raise BrushworkError(f"{model}: an ONNX model runs with --engine onnx")
        model = load_style_network(model)
    torch_engine = TorchEngine(model, resolve_device(config.device))
    return torch_engine, torch_engine.metadata


def apply_style_network(model: Path | str | StyleNetwork, image: ImageSource, config: ApplyConfig | None = None,
                        **options: Any) -> Image.Image:
    """Stylise one image (a path, PIL image, array or tensor, as ``brushwork.stylize`` takes) with a
    trained network (a StyleNetwork or a file). ``options`` override fields of ``config`` (defaults:
    ApplyConfig()), e.g. ``strength=0.7``. Returns RGB (RGBA if the image had transparency)."""
    config = replace(config or ApplyConfig(), **options)
    engine, _ = open_engine(model, config)
    rgb, alpha = load_image(image, config.max_pixels)
    if config.size is not None:
        rgb = resize_long_side(rgb, config.size)
    return to_pil(finish(run_padded(engine, rgb), rgb, config), alpha)


def plan_outputs(inputs: Sequence[Path], output: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one input file and an ``output`` with an image suffix give that file;
    otherwise ``output`` is a folder that gets each file under its own name (the files of an input
    folder, recursively, under their paths relative to it). Suffixes we cannot write become .png."""
    def target(name: Path) -> Path:
        return output / (name if name.suffix.lower() in OUTPUT_FORMATS else name.with_suffix(".png"))

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
    seen: dict[Path, Path] = {}
    for source, dest in pairs:
        if dest in seen:
            raise BrushworkError(f"{source}: its output {dest} would overwrite that of {seen[dest]}")
        seen[dest] = source
    return pairs


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


def stylize_files(model: Path, inputs: Sequence[Path], output: Path, config: ApplyConfig,
                  on_done: Callable[[Path, Path], None] | None = None) -> tuple[int, int, list[str]]:
    """Stylise image files and folders into ``output`` (see :func:`plan_outputs`); existing outputs in a
    folder are skipped unless ``config.overwrite``, a single existing output file is an error before any
    work, no output may be an input (checked first), and inputs that cannot be read are passed over, so that one bad
    file does not stop a batch job. Calls ``on_done(input, output)`` after each image; returns
    (written, skipped, one-line errors of the inputs passed over)."""
    pairs = plan_outputs([Path(p) for p in inputs], Path(output))
    sources = [("model", model), *(("input", source) for source, _ in pairs)]
    if pairs and pairs[0][1] == Path(output):  # one image file: it must not exist unless --overwrite
        check_output_file(output, "-o", sources, config.overwrite, tuple(OUTPUT_FORMATS))
    else:
        check_writable_folder(output, "-o")
        check_not_inputs([dest for _, dest in pairs], "-o", sources)
    todo = [(s, d) for s, d in pairs if config.overwrite or not d.exists()]
    engine, meta = open_engine(model, config)
    stamp = {"model": Path(model).name, "style": str(meta.get("style", "?")), "strength": str(config.strength),
             "preserve_colors": str(config.preserve_colors), "brushwork": version("brushwork")}
    failed: list[str] = []
    for batch in _batches(todo, config, failed):
        content = torch.cat([rgb for _, _, rgb, _ in batch])
        results = finish(run_padded(engine, content), content, config)
        for (source, dest, _, alpha), result in zip(batch, results):
            dest.parent.mkdir(parents=True, exist_ok=True)
            save_image(to_pil(result[None], alpha), dest, {"content": str(source), **stamp})
            if on_done is not None:
                on_done(source, dest)
    return len(todo) - len(failed), len(pairs) - len(todo), failed
