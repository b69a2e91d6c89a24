"""Contact sheets: for every content x style pair of ../shared/images/reference, one row of
photo | painting | canonical reference | each given column, labelled, with the independent scores
(bench/quality.py, style / content, lower is better) under every image; the painting is scored as
resized to the photo's shape, which is how it enters the calibration.

``python bench/contact_sheet.py OUT_DIR --column brushwork=DIR --column textbook=DIR`` writes
OUT_DIR/CONTENT_STYLE.jpg per pair and OUT_DIR/contact_sheet.jpg with all rows; a column's DIR holds
outputs named like the references (CONTENT_STYLE.png); a missing one leaves its cell empty.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, stack_images  # noqa: E402
from quality import Scorer, load, pair_of, plain_pairs  # noqa: E402

from brushwork.image import resize, to_pil  # noqa: E402

TILE_HEIGHT = 256
_TEXT_HEIGHT = 24
_GAP = 8


def column(spec: str) -> tuple[str, Path]:
    """``LABEL=DIR`` -> (label, folder)."""
    label, sep, folder = spec.partition("=")
    if not sep or not label or not Path(folder).is_dir():
        raise argparse.ArgumentTypeError(f"expected LABEL=DIR with an existing DIR, got {spec!r}")
    return label, Path(folder)


def row(cells: list[tuple[str, torch.Tensor | None, dict[str, float] | None]]) -> Image.Image:
    """One labelled row: each cell is (label, image [1,3,H,W] in [0,1] or None, scores or None)."""
    font = ImageFont.load_default(size=15)
    tiles = []
    for label, image, scores in cells:
        width = TILE_HEIGHT if image is None else round(image.shape[-1] * TILE_HEIGHT / image.shape[-2])
        tile = Image.new("RGB", (width, TILE_HEIGHT + 2 * _TEXT_HEIGHT), "white")
        draw = ImageDraw.Draw(tile)
        draw.text((4, 4), label, fill="black", font=font)
        if image is not None:
            tile.paste(to_pil(resize(image, TILE_HEIGHT, width)), (0, _TEXT_HEIGHT))
        if scores is not None:
            draw.text((4, TILE_HEIGHT + _TEXT_HEIGHT + 4),
                      f"style {scores['style']:.3f}  content {scores['content']:.3f}", fill="black", font=font)
        tiles.append(tile)
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + _GAP * (len(tiles) - 1), tiles[0].height), "white")
    x = 0
    for tile in tiles:
        sheet.paste(tile, (x, 0))
        x += tile.width + _GAP
    return sheet


def pair_row(name: str, columns: list[tuple[str, Path]],
             shared: Path) -> tuple[Image.Image, dict[str, dict[str, float]]]:
    """The row of pair ``name`` and the scores shown in it, by column label."""
    photo_path, painting_path, _ = pair_of(name, shared)
    photo, painting = load(photo_path), load(painting_path)
    scorer = Scorer(photo, painting)
    images: dict[str, torch.Tensor | None] = {"photo": photo, "painting": painting,
                                              "canonical": load(shared / "reference" / f"{name}.png")}
    for label, folder in columns:
        path = folder / f"{name}.png"
        images[label] = load(path) if path.is_file() else None
    scores = {label: scorer(image) for label, image in images.items() if image is not None}
    cells = [(f"{name}: {label}" if label == "photo" else label, image, scores.get(label))
             for label, image in images.items()]
    return row(cells), scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the sheets")
    parser.add_argument("--column", type=column, action="append", default=[], metavar="LABEL=DIR",
                        help="a column of outputs named CONTENT_STYLE.png (repeatable, in order)")
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder with content/, style/ and reference/")
    parser.add_argument("--pairs", type=lambda text: text.split(","), default=None, metavar="A,B,...",
                        help="only these pairs, e.g. tubingen_starry,golden_gate_scream (default: every reference pair)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.pairs or plain_pairs(args.shared):
        sheet, scores = pair_row(name, args.column, args.shared)
        sheet.save(args.out / f"{name}.jpg", quality=90)
        rows.append(sheet)
        print(name, {label: f"{s['style']:.3f}/{s['content']:.3f}" for label, s in scores.items()})
    stack_images(rows, _GAP).save(args.out / "contact_sheet.jpg", quality=90)
    print(f"wrote {args.out / 'contact_sheet.jpg'}")


if __name__ == "__main__":
    main()
