"""How does a network of several styles blend them? One photo painted in every pair of its styles.

A table for a model of N styles: the style images along the top and down the left, and in cell (i, j)
the photo painted with ``--style-weights`` half style i and half style j (on the diagonal, style i
alone), each in one forward pass of the network. Writes a JPEG to look at.

    python bench/feedforward_blends.py PACK.safetensors [--photo ../shared/images/content/tubingen.jpg]
        [--size 384] [--out docs/feedforward-blends.jpg]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from brushwork.feedforward.apply import apply_style_network
from brushwork.feedforward.model_file import load_style_network
from brushwork.image import to_pil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED  # noqa: E402

#: Height of the caption strip above each cell, in px.
CAPTION = 14


def blend_table(model: Path, photo: Path, size: int) -> Image.Image:
    """The N+1 by N+1 table of ``model``'s styles and their half-and-half blends of ``photo`` at ``size`` px."""
    network = load_style_network(model)
    names, count = network.style_names, network.net.styles
    cells: dict[tuple[int, int], Image.Image] = {}
    for i in range(count):
        for j in range(i, count):
            weights = tuple(float(k in (i, j)) for k in range(count))
            cells[i, j] = cells[j, i] = apply_style_network(network, photo, size=size, style_weights=weights)
    width, height = cells[0, 0].size
    table = Image.new("RGB", ((count + 1) * width, (count + 1) * (height + CAPTION)), "white")
    draw = ImageDraw.Draw(table)

    def put(image: Image.Image, column: int, row: int, caption: str) -> None:
        image = image.copy()
        image.thumbnail((width, height), Image.LANCZOS)
        top = row * (height + CAPTION)
        table.paste(image, (column * width, top + CAPTION))
        draw.text((column * width + 3, top + 1), caption[: max(1, (width - 3) // 6)], fill=(0, 0, 0))

    for index, name in enumerate(names):
        thumbnail = network.thumbnail(index)
        put(thumbnail, index + 1, 0, name)
        put(thumbnail, 0, index + 1, name)
    for (i, j), image in cells.items():
        put(image, j + 1, i + 1, names[i] if i == j else f"{names[i][:8]} + {names[j][:8]}")
    put(to_pil(torch.ones(1, 3, 1, 1)), 0, 0, "half and half")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--photo", type=Path, default=SHARED / "content" / "tubingen.jpg")
    parser.add_argument("--size", type=int, default=384, help="long side of each painting in px")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "feedforward-blends.jpg")
    args = parser.parse_args()
    blend_table(args.model, args.photo, args.size).save(args.out, quality=88)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
