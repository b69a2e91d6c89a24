"""A strip of consecutive stylised frames with and without temporal consistency, and under each the
flicker: how much the frame differs from the previous one carried along the input's motion (reliable
pixels only, magnified 4x; black is steady).

    python bench/video_strip.py INPUT_FRAMES/ PER_FRAME/ TEMPORAL/ -o docs/video-strip.jpg [--first 10 --count 4]

The three folders hold numbered PNGs (frame_000001.png, ...) of one segment at one size, as
``bench/video.py --keep DIR`` leaves them (DIR/fast-input, DIR/fast-per_frame, DIR/fast-blend_0.4).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from brushwork.video.temporal import FlowTracker


def _frames(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


def flicker(inputs: list[np.ndarray], outputs: list[np.ndarray], t: int) -> np.ndarray:
    """|O_t - warp(O_{t-1})| on the reliable pixels, magnified 4x, uint8 [H,W,3]."""
    warped = FlowTracker("medium")(inputs[t - 1], inputs[t], outputs[t - 1])
    before = warped.image[0].permute(1, 2, 0).numpy() * 255
    difference = np.abs(outputs[t].astype(np.float32) - before) * warped.mask[0, 0].numpy()[..., None]
    return np.clip(4 * difference, 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", type=Path)
    parser.add_argument("per_frame", type=Path)
    parser.add_argument("temporal", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--first", type=int, default=10, help="first frame shown (from 0; one or more)")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--width", type=int, default=320, help="width of each frame in the strip")
    args = parser.parse_args()
    inputs = _frames(args.inputs)
    rows = []
    for label, folder in (("per frame", args.per_frame), ("temporal", args.temporal)):
        outputs = _frames(folder)
        shown = range(args.first, args.first + args.count)
        rows.append((label, [outputs[t] for t in shown]))
        rows.append((f"{label}: flicker x4", [flicker(inputs, outputs, t) for t in shown]))
    height = round(inputs[0].shape[0] * args.width / inputs[0].shape[1])
    label_width = 120
    sheet = Image.new("RGB", (label_width + args.count * args.width, len(rows) * height), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, images) in enumerate(rows):
        draw.text((6, r * height + height // 2 - 6), label, fill="black")
        for c, image in enumerate(images):
            sheet.paste(Image.fromarray(image).resize((args.width, height), Image.LANCZOS),
                        (label_width + c * args.width, r * height))
    sheet.save(args.output, quality=85)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
