"""The Python entry points: ``stylize_audio(content, style) -> Sound`` and ``synthesize_texture(style)``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import torch

from brushwork.audio.config import AudioConfig
from brushwork.audio.io import Sound, fit, load_sound, match_loudness, resample
from brushwork.audio.spectrogram import griffin_lim, log_magnitude, magnitude
from brushwork.audio.transfer import synthesise
from brushwork.errors import BrushworkError
from brushwork.hardware import resolve_device
from brushwork.image import PathLike
from brushwork.progress import Callback, CancelToken

AudioSource = PathLike | Sound


def _name(source: AudioSource, role: str) -> str:
    """How errors call a source: its path, or its role for a Sound."""
    return role if isinstance(source, Sound) else str(source)


def _working(sound: Sound, config: AudioConfig, name: str, device: torch.device) -> torch.Tensor:
    """``sound`` resampled to the working rate as a tensor [C,S]; at least one FFT frame long."""
    samples = resample(sound, config.sample_rate).samples
    if samples.shape[1] < config.n_fft:
        raise BrushworkError(
            f"{name}: too short ({sound.samples.shape[1]} samples at {sound.sample_rate} Hz); one FFT frame "
            f"(--n-fft {config.n_fft} at {config.sample_rate} Hz) needs {config.n_fft / config.sample_rate:.3g} s")
    return torch.from_numpy(samples).to(device)


def _spectrogram(wave: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    return log_magnitude(wave, config.n_fft, config.hop_length)


def _render(spec: torch.Tensor, config: AudioConfig, reference: Sound, channels: int, length: int) -> Sound:
    """Griffin-Lim on ``spec`` [C,F,T], back to ``reference``'s sample rate, ``channels`` x ``length``
    samples, at ``reference``'s loudness without clipping."""
    working = round(length * config.sample_rate / reference.sample_rate)
    wave = griffin_lim(magnitude(spec), config.n_fft, config.hop_length, working,
                       config.griffin_lim_iterations, config.seed)
    sound = fit(resample(Sound(wave.cpu().numpy(), config.sample_rate), reference.sample_rate), channels, length)
    return Sound(match_loudness(sound.samples, reference.samples), reference.sample_rate)


def stylize_audio(content: AudioSource, style: AudioSource, config: AudioConfig | None = None, *,
                  callbacks: Iterable[Callback] = (), cancel: CancelToken | None = None, **options: Any) -> Sound:
    """``content`` in the style of ``style`` (Ulyanov and Lebedev 2016).

    Sources are file paths (WAV, FLAC, OGG, MP3, ...) or :class:`Sound` objects, mono or stereo, at
    any sample rate. ``options`` override fields of ``config`` (defaults: AudioConfig()), e.g.
    ``iterations=100``. Returns a Sound with the content's sample rate, channels and length, at its
    loudness (lowered if that would clip). Each content channel is stylised; the style is mixed to mono.
    ``callbacks`` get an "audio" ProgressEvent after every step; a cancelled ``cancel`` stops the run
    within one step with Cancelled (see ``transfer.synthesise``).
    """
    config = replace(config or AudioConfig(), **options)
    device = resolve_device(config.device)
    content_sound = load_sound(content, _name(content, "content"))
    style_sound = load_sound(style, _name(style, "style"))
    content_wave = _working(content_sound, config, _name(content, "content"), device)
    style_wave = _working(style_sound, config, _name(style, "style"), device)
    spec = synthesise(_spectrogram(style_wave.mean(0, keepdim=True), config), config,
                      _spectrogram(content_wave, config), callbacks=callbacks, cancel=cancel)
    return _render(spec, config, content_sound, content_sound.channels, content_sound.samples.shape[1])


def synthesize_texture(style: AudioSource, config: AudioConfig | None = None, *,
                       callbacks: Iterable[Callback] = (), cancel: CancelToken | None = None,
                       **options: Any) -> Sound:
    """A new sound of ``config.duration`` seconds with the texture of ``style`` (no content).

    Returns a Sound with the style's sample rate, channels and loudness. Progress ("texture" events)
    and cancellation as in :func:`stylize_audio`.
    """
    config = replace(config or AudioConfig(), **options)
    device = resolve_device(config.device)
    style_sound = load_sound(style, _name(style, "style"))
    style_wave = _working(style_sound, config, _name(style, "style"), device)
    frames = 1 + round(config.duration * config.sample_rate) // config.hop_length  # centred frames
    spec = synthesise(_spectrogram(style_wave.mean(0, keepdim=True), config), config, frames=frames,
                      channels=style_sound.channels, callbacks=callbacks, cancel=cancel, task="texture")
    return _render(spec, config, style_sound, style_sound.channels, round(config.duration * style_sound.sample_rate))
