"""Pictures of a training run, drawn with PIL alone: the preview grid and the loss curves."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from PIL import Image, ImageDraw

from brushwork.image import to_pil

#: Height in px of the caption strip above each cell of the preview grid.
CAPTION = 14
COLOURS = {"total": (0, 0, 0), "content": (31, 119, 180), "style": (214, 39, 40), "tv": (44, 160, 44)}


def preview_grid(styles: Sequence[torch.Tensor], photos: Sequence[torch.Tensor],
                 outputs: Sequence[Sequence[torch.Tensor]], references: Sequence[torch.Tensor] | None,
                 cell: int) -> Image.Image:
    """A table of a checkpoint: the held-out photos along the top, a row per style (the style image,
    then the network's output of each photo), and, where ``references`` are given, a last column with
    the optimisation's output of the first photo in each style. ``outputs[s][p]`` is photo p in style
    s; every image [1,3,H,W] in [0,1] is fitted into a ``cell`` px square on white, under a caption."""
    columns = len(photos) + 1 + (references is not None)
    height = cell + CAPTION
    grid = Image.new("RGB", (columns * cell, (len(styles) + 1) * height), "white")
    draw = ImageDraw.Draw(grid)

    def put(image: torch.Tensor, column: int, row: int, caption: str) -> None:
        tile = to_pil(image.float().cpu())
        tile.thumbnail((cell, cell), Image.LANCZOS)
        grid.paste(tile, (column * cell + (cell - tile.width) // 2, row * height + CAPTION + (cell - tile.height) // 2))
        # PIL's default font is about 6 px a character: cut what would run into the next cell.
        draw.text((column * cell + 3, row * height + 2), caption[:max(1, (cell - 3) // 6)], fill=(0, 0, 0))

    for p, photo in enumerate(photos):
        put(photo, p + 1, 0, f"held-out photo {p + 1}")
    if references is not None and photos:
        put(photos[0], columns - 1, 0, "photo 1, optimised:")
    for s, (style, row) in enumerate(zip(styles, outputs)):
        put(style, 0, s + 1, f"style {s + 1}")
        for p, output in enumerate(row):
            put(output, p + 1, s + 1, "network")
        if references is not None:
            put(references[s], columns - 1, s + 1, "optimisation")
    return grid


def loss_plot(history: Sequence[dict[str, float]], width: int = 800, height: int = 480) -> Image.Image:
    """Each loss term against the step, log scale, averaged over buckets of steps so that noise from
    batch to batch does not hide the trend. ``history[i]`` holds the terms of step i + 1."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 70, width - 20, 20, height - 40
    draw.rectangle((left, top, right, bottom), outline=(128, 128, 128))
    names = [n for n in COLOURS if history and n in history[0]]
    bucket = max(1, math.ceil(len(history) / (right - left) * 2))
    curves: dict[str, list[tuple[float, float]]] = {}
    for name in names:
        points = []
        for start in range(0, len(history), bucket):
            values = [h[name] for h in history[start:start + bucket] if h[name] > 0]
            if values:
                points.append((start + len(values) / 2, math.log10(sum(values) / len(values))))
        curves[name] = points
    ys = [y for points in curves.values() for _, y in points]
    if not ys:
        draw.text((left + 10, top + 10), "no losses yet", fill=(0, 0, 0))
        return image
    low, high = math.floor(min(ys)), math.ceil(max(ys) + 1e-9)
    high = max(high, low + 1)
    steps = max(1, len(history))

    def at(x: float, y: float) -> tuple[float, float]:
        return left + (right - left) * x / steps, bottom - (bottom - top) * (y - low) / (high - low)

    for decade in range(low, high + 1):
        _, y = at(0, decade)
        draw.line((left, y, right, y), fill=(225, 225, 225))
        draw.text((8, y - 6), f"1e{decade}", fill=(0, 0, 0))
    draw.text((left, bottom + 8), "step 0", fill=(0, 0, 0))
    draw.text((right - 60, bottom + 8), f"step {len(history)}", fill=(0, 0, 0))
    for index, name in enumerate(names):
        if len(curves[name]) > 1:
            draw.line([at(x, y) for x, y in curves[name]], fill=COLOURS[name], width=2)
        draw.text((left + 10 + 90 * index, bottom + 22), name, fill=COLOURS[name])
    return image
