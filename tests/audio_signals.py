"""Small generated sounds for the audio tests: a melody, noise bursts and a chord, at 8000 Hz."""

from __future__ import annotations

import numpy as np

from brushwork.audio.io import Sound
from brushwork.audio.config import AudioConfig

RATE = 8000
#: Settings small enough for tests of a second or two: 129 bins, 128 filters.
FAST = dict(sample_rate=RATE, n_fft=256, hop_length=64, filters=128, iterations=40, griffin_lim_iterations=30)


def fast_config(**options: object) -> AudioConfig:
    return AudioConfig(**{**FAST, **options})


def melody(seconds: float = 1.5, rate: int = RATE) -> np.ndarray:
    """Four sine notes of equal length with soft onsets: [S] in [-0.5, 0.5]."""
    t = np.arange(int(seconds * rate)) / rate
    notes = np.array([330.0, 392.0, 440.0, 523.0])
    f = notes[np.minimum((t / seconds * 4).astype(int), 3)]
    phase = 2 * np.pi * np.cumsum(f) / rate
    envelope = np.minimum(1.0, (t % (seconds / 4)) * 50)
    return (0.5 * np.sin(phase) * envelope).astype(np.float32)


def bursts(seconds: float = 1.5, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Decaying white-noise bursts, eight a second: [S] in [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    envelope = np.exp(-(t % 0.125) * 60)
    out = rng.standard_normal(n) * envelope
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def chord(seconds: float = 1.5, rate: int = RATE) -> np.ndarray:
    """A sustained A major chord with tremolo: [S] in [-0.5, 0.5]."""
    t = np.arange(int(seconds * rate)) / rate
    out = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 880.0)) * (1 + 0.5 * np.sin(2 * np.pi * 6 * t))
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def sound(*channels: np.ndarray, rate: int = RATE) -> Sound:
    return Sound(np.stack(channels).astype(np.float32), rate)
