"""Log-magnitude spectrograms and their inversion by fast Griffin-Lim.

Waveforms are [C,S] float tensors (C channels, S samples); complex STFTs and magnitudes are [C,F,T]
with F = n_fft/2 + 1 frequency bins and T = 1 + S // hop frames (centred frames, Hann window).
Ulyanov and Lebedev (2016) take log(1 + |STFT|), which we follow; it is zero or positive.
"""

from __future__ import annotations

import torch

#: Momentum of fast Griffin-Lim (Perraudin, Balazs and Søndergaard 2013): 0.99 as they advise.
MOMENTUM = 0.99


def stft(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Complex STFT [C,S] -> [C,F,T], Hann window, centred frames."""
    window = torch.hann_window(n_fft, device=wave.device, dtype=wave.dtype)
    return torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """Inverse of :func:`stft`: [C,F,T] -> [C,length] (least-squares overlap-add)."""
    window = torch.hann_window(n_fft, device=spec.device, dtype=spec.real.dtype)
    return torch.istft(spec, n_fft, hop, window=window, center=True, length=length)


def log_magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """log(1 + |STFT|) of [C,S]: [C,F,T], zero or positive."""
    return torch.log1p(stft(wave, n_fft, hop).abs())


def magnitude(log_mag: torch.Tensor) -> torch.Tensor:
    """The inverse of the log in :func:`log_magnitude`: exp(x) - 1, [C,F,T]."""
    return torch.expm1(log_mag.clamp_min(0))


def griffin_lim(mag: torch.Tensor, n_fft: int, hop: int, length: int, iterations: int,
                seed: int = 0) -> torch.Tensor:
    """A waveform [C,length] whose STFT magnitude approximates ``mag`` [C,F,T] (fast Griffin-Lim).

    Starts from random phases (seeded), then alternates between the signal's STFT and the given
    magnitudes, with momentum (Perraudin et al. 2013), which converges far faster than plain
    Griffin-Lim (1984) for the same number of iterations.
    """
    generator = torch.Generator().manual_seed(seed)
    phase = torch.rand(mag.shape, generator=generator, dtype=mag.dtype).to(mag.device) * (2 * torch.pi)
    angles = torch.polar(torch.ones_like(mag), phase)
    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        rebuilt = stft(istft(mag * angles, n_fft, hop, length), n_fft, hop)
        angles = rebuilt - (MOMENTUM / (1 + MOMENTUM)) * previous
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    return istft(mag * angles, n_fft, hop, length)


def spectral_convergence(wave: torch.Tensor, mag: torch.Tensor, n_fft: int, hop: int) -> float:
    """‖ |STFT(wave)| - mag ‖ / ‖ mag ‖ (Frobenius): 0 for a perfect reconstruction of ``mag``."""
    return float(torch.linalg.vector_norm(stft(wave, n_fft, hop).abs() - mag) / torch.linalg.vector_norm(mag))


def spectrogram_image(log_mag: torch.Tensor) -> torch.Tensor:
    """A log-magnitude spectrogram [C,F,T] as a picture to look at: RGB [1,3,F,T] in [0,1], channels
    averaged, low frequencies at the bottom, dark for silence and warm white for the loudest bin
    (each colour a power of the level scaled to the spectrogram's maximum)."""
    level = log_mag.mean(0).clamp_min(0).flip(0)
    level = level / level.max().clamp_min(1e-8)
    return torch.stack([level.sqrt(), level, level.square()]).unsqueeze(0)
