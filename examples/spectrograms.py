"""Draw the spectrograms of sounds side by side, with a caption under each, to a PNG (PIL only).

    python examples/spectrograms.py content.wav style.wav result.wav -o docs/audio_spectrograms.png

Each panel is the first channel's log-magnitude spectrogram (n_fft 1024, hop 256, at 22050 Hz),
low frequencies at the bottom, up to 8 kHz, on one shared colour scale.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from brushwork.audio.io import read_audio, resample
from brushwork.audio.spectrogram import log_magnitude

RATE, N_FFT, HOP, TOP_HZ = 22050, 1024, 256, 8000


def spectrogram(path: Path) -> np.ndarray:
    """log(1 + |STFT|) of the first channel, [F,T], low frequencies first, up to TOP_HZ."""
    samples = resample(read_audio(path), RATE).samples[:1]
    spec = log_magnitude(torch.from_numpy(samples), N_FFT, HOP)[0].numpy()
    return spec[: int(TOP_HZ / RATE * N_FFT)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sounds", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--height", type=int, default=240, help="panel height in px")
    args = parser.parse_args()
    specs = [spectrogram(path) for path in args.sounds]
    top = max(float(s.max()) for s in specs)
    panels = []
    for path, spec in zip(args.sounds, specs):
        grey = (255 * np.clip(spec / top, 0, 1) ** 0.7).astype(np.uint8)[::-1]  # high frequencies on top
        # a blue-to-yellow ramp: dark is quiet
        colour = np.stack([grey, (0.85 * grey).astype(np.uint8), (255 - grey) // 3], axis=-1)
        image = Image.fromarray(colour).resize((min(spec.shape[1], 430), args.height), Image.BILINEAR)
        panel = Image.new("RGB", (image.width, image.height + 22), "white")
        panel.paste(image, (0, 0))
        ImageDraw.Draw(panel).text((4, image.height + 5), path.stem, fill="black")
        panels.append(panel)
    gap = 8
    out = Image.new("RGB", (sum(p.width for p in panels) + gap * (len(panels) - 1), panels[0].height), "white")
    x = 0
    for panel in panels:
        out.paste(panel, (x, 0))
        x += panel.width + gap
    out.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
