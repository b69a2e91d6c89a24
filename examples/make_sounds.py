"""Draw the audio demo's sounds: a melody (content) and a texture of noise bursts over a chord (style).

    python examples/make_sounds.py OUT_DIR [--seconds 10]

writes OUT_DIR/melody.wav and OUT_DIR/bursts.wav at 22050 Hz, mono, 16-bit. Both are ours to ship.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile

RATE = 22050
# A tune in A minor, as (semitones above A3 = 220 Hz, beats); 0.3 s a beat.
TUNE = [(0, 1), (3, 1), (7, 1), (12, 2), (10, 1), (7, 1), (8, 2), (7, 1), (5, 1), (3, 2), (2, 1), (3, 1), (0, 2)]


def melody(seconds: float, rate: int = RATE) -> np.ndarray:
    """A plucked tune (three harmonics, exponential decay), repeated to ``seconds``: [S] in [-1,1]."""
    notes = []
    for semitones, beats in TUNE:
        t = np.arange(int(0.3 * beats * rate)) / rate
        f = 220.0 * 2 ** (semitones / 12)
        tone = sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3))
        notes.append(tone * np.exp(-3.0 * t) * np.minimum(1.0, t * 200))
    tune = np.concatenate(notes)
    out = np.tile(tune, int(np.ceil(seconds * rate / len(tune))))[: int(seconds * rate)]
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def bursts(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Short high-passed noise bursts at random times, over a soft sustained C major chord: [S]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    noise = np.diff(rng.standard_normal(n + 1))  # a first difference: noise tilted to the highs
    envelope = np.zeros(n)
    for start in np.sort(rng.integers(0, n, int(seconds * 6))):
        length = min(n - start, int(0.08 * rate))
        envelope[start:start + length] += np.exp(-np.arange(length) / (0.015 * rate))
    out = 0.15 * chord / 3 + 0.5 * noise * envelope
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    soundfile.write(args.out / "melody.wav", melody(args.seconds), RATE, subtype="PCM_16")
    soundfile.write(args.out / "bursts.wav", bursts(args.seconds), RATE, subtype="PCM_16")
    print(f"wrote {args.out / 'melody.wav'} and {args.out / 'bursts.wav'}")


if __name__ == "__main__":
    main()
