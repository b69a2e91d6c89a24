"""Reading, resampling, loudness and writing of sound.

Inside brushwork a sound is a :class:`Sound`: float32 samples [C,S] (C channels, S samples per
channel) in [-1,1] and a sample rate in Hz. Every problem with the user's files is raised as a
one-line :class:`BrushworkError` naming the file; writing goes through a temporary file and a rename.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.image import PathLike, check_writable, one_line, write_atomically

#: Output suffix -> libsndfile format; both are written as 16-bit PCM.
OUTPUT_FORMATS: dict[str, str] = {".wav": "WAV", ".flac": "FLAC"}
#: A file whose peak is below this (-80 dBFS) is called silent: it has no content or style to give.
SILENCE = 1e-4
#: The loudest sample we write (-0.2 dBFS): loudness matching never clips.
PEAK = 0.977


@dataclass(frozen=True)
class Sound:
    """Samples [C,S] float32 in [-1,1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def seconds(self) -> float:
        return self.samples.shape[1] / self.sample_rate


def _soundfile() -> ModuleType:
    try:
        import soundfile
    except ImportError:  # pragma: no cover - the [audio] extra is missing
        raise BrushworkError("audio needs the soundfile package: pip install 'brushwork[audio]'") from None
    return soundfile


def read_audio(path: PathLike) -> Sound:
    """Decode WAV, FLAC, OGG/Vorbis, MP3 (libsndfile 1.1 or later) or any other libsndfile format.

    Raises a one-line error for a missing, empty, undecodable, sample-less, non-finite or silent file.
    """
    sf = _soundfile()
    path = Path(path)
    if not path.exists():
        raise BrushworkError(f"{path}: file not found")
    if path.is_dir():
        raise BrushworkError(f"{path}: is a directory, not a sound file")
    if path.stat().st_size == 0:
        raise BrushworkError(f"{path}: empty file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise BrushworkError(f"{path}: unsupported or unreadable sound file ({one_line(e.error_string)})") from None
    except (OSError, RuntimeError, ValueError) as e:
        raise BrushworkError(f"{path}: cannot read ({one_line(e)})") from None
    return check_sound(Sound(np.ascontiguousarray(data.T), int(rate)), str(path))


def check_sound(sound: Sound, name: str) -> Sound:
    """``sound`` as it is, or a one-line error naming ``name`` if it is empty, non-finite or silent."""
    samples = sound.samples
    if samples.ndim != 2 or samples.size == 0:
        raise BrushworkError(f"{name}: contains no samples")
    if not np.isfinite(samples).all():
        raise BrushworkError(f"{name}: contains samples that are not finite numbers")
    if np.abs(samples).max() < SILENCE:
        raise BrushworkError(f"{name}: silent (peak below -80 dBFS): there is nothing to take from it")
    return sound


def load_sound(source: PathLike | Sound, name: str) -> Sound:
    """A checked Sound from a file path or a Sound (called ``name`` in errors)."""
    if isinstance(source, Sound):
        return check_sound(Sound(np.asarray(source.samples, dtype=np.float32), source.sample_rate), name)
    return read_audio(source)


def resample(sound: Sound, rate: int) -> Sound:
    """``sound`` at ``rate`` Hz by polyphase filtering (scipy's resample_poly, Kaiser window)."""
    if sound.sample_rate == rate:
        return sound
    from scipy.signal import resample_poly

    g = math.gcd(sound.sample_rate, rate)
    out = resample_poly(sound.samples, rate // g, sound.sample_rate // g, axis=1).astype(np.float32)
    # resample_poly gives ceil(S * up / down) samples; keep exactly the duration asked for.
    length = round(sound.samples.shape[1] * rate / sound.sample_rate)
    return Sound(_fit_length(out, length), rate)


def _fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """[C,S] cut or zero-padded at the end to [C,length]."""
    if samples.shape[1] >= length:
        return samples[:, :length]
    return np.pad(samples, ((0, 0), (0, length - samples.shape[1])))


def fit(sound: Sound, channels: int, length: int) -> Sound:
    """``sound`` with ``channels`` channels (a mono sound copied to each; more channels than
    that averaged to one first) and exactly ``length`` samples."""
    samples = sound.samples
    if samples.shape[0] != channels:
        samples = np.repeat(samples.mean(axis=0, keepdims=True), channels, axis=0)
    return Sound(_fit_length(samples, length), sound.sample_rate)


def rms(samples: np.ndarray) -> float:
    """Root mean square of all samples, in full-scale units."""
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def match_loudness(samples: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``samples`` scaled to the RMS loudness of ``reference``, then down to a peak of at most
    :data:`PEAK` if that would clip (a quieter output rather than a distorted one)."""
    level = rms(samples)
    if level == 0:
        return samples
    scaled = samples * (rms(reference) / level)
    peak = float(np.abs(scaled).max())
    return scaled * (PEAK / peak) if peak > PEAK else scaled


def check_audio_output(path: PathLike) -> Path:
    """Fail early, before a long job, if ``path`` cannot be written as a .wav or .flac file."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        suffix = f"'{path.suffix}'" if path.suffix else "(none)"
        raise BrushworkError(f"{path}: unsupported output format {suffix} (use .wav or .flac)")
    return check_writable(path)


def save_audio(sound: Sound, path: PathLike) -> None:
    """Write ``sound`` as 16-bit PCM WAV or FLAC by the suffix of ``path``, atomically."""
    sf = _soundfile()
    path = check_audio_output(path)
    fmt = OUTPUT_FORMATS[path.suffix.lower()]
    samples = np.clip(sound.samples, -1.0, 1.0).T
    write_atomically(path, lambda tmp: sf.write(tmp, samples, sound.sample_rate, subtype="PCM_16", format=fmt))
