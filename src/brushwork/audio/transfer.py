"""The audio objective of Ulyanov and Lebedev (2016) and its chunked optimisation.

Spectrograms are log-magnitudes [C,F,T] (C channels, F frequency bins, T frames), zero or positive.
A single wide 1-D convolution with random weights over time, whose input channels are the frequency
bins, and a ReLU give features [C,N,1,T] (N filters), a 4-D view so that the image path's
:class:`ContentLoss`, :class:`StyleLoss` and :func:`gram_matrix` serve unchanged: the style is the
Gram matrix of the features over time, the content their values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from brushwork.audio.config import AudioConfig
from brushwork.losses import ContentLoss, StyleLoss, gram_matrix
from brushwork.optim import optimise
from brushwork.progress import Callback, CancelToken, Clock


class RandomFeatures(nn.Module):
    """ReLU(conv1d(spectrogram)) with fixed random filters [N,F,width]: [C,F,T] -> [C,N,1,T].

    Ulyanov and Lebedev draw the filters from a Gaussian; so do we (seeded). Their scale does not
    matter: the ReLU is positively homogeneous and every loss is divided by its target's norm.
    'Same' zero padding keeps T frames.
    """

    def __init__(self, bins: int, filters: int, width: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(filters, bins, width, generator=generator) / math.sqrt(bins * width)
        self.register_buffer("weight", weight)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        conv = nn.functional.conv1d(spec, self.weight, padding=self.weight.shape[-1] // 2)
        return torch.relu(conv).unsqueeze(2)


def style_gram(features: RandomFeatures, style: torch.Tensor, chunk: int) -> torch.Tensor:
    """The Gram matrix over time [1,N,N] of the features of ``style`` [C,F,T], all channels together.

    Computed ``chunk`` frames at a time and weighted by each chunk's length, so that a style of
    minutes needs the memory of one chunk's features (the chunk edges see zero padding, a small
    difference from the whole at once).
    """
    total = torch.zeros(())
    frames = 0
    with torch.no_grad():
        for channel in style.split(1):
            for piece in channel.split(chunk, dim=-1):
                total = total + gram_matrix(features(piece)) * piece.shape[-1]
                frames += piece.shape[-1]
    return total / frames


class AudioObjective(nn.Module):
    """α·content + β·style on a spectrogram [C,F,T]; targets computed once.

    ``style_target`` is a Gram [1,N,N] (:func:`style_gram`); ``content`` [C,F,T] or None (texture).
    Each channel is matched to the one style Gram, and the style weight is divided by C, so that both
    terms are averages over channels. ``forward`` returns {"content", "style", "total"}.
    """

    def __init__(self, features: RandomFeatures, style_target: torch.Tensor, config: AudioConfig,
                 content: torch.Tensor | None, channels: int) -> None:
        super().__init__()
        self.features = features
        self.style = StyleLoss(style_target, config.style_weight / channels)
        self.content = None
        if content is not None and config.content_weight > 0:
            with torch.no_grad():
                self.content = ContentLoss(features(content), config.content_weight)

    def forward(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(spec)
        terms = {"content": self.content(f) if self.content is not None else f.new_zeros(()),
                 "style": self.style(f)}
        terms["total"] = terms["content"] + terms["style"]
        return terms


def chunk_spans(frames: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """[(start, end)] frame ranges of at most ``chunk`` frames that cover ``frames``, neighbours
    overlapping by at least ``overlap`` (the last one is moved back to end at ``frames``)."""
    if frames <= chunk:
        return [(0, frames)]
    starts = list(range(0, frames - chunk, chunk - overlap)) + [frames - chunk]
    return [(start, start + chunk) for start in starts]


def _fade(start: int, end: int, frames: int, overlap: int) -> torch.Tensor:
    """Cross-fade weights [end-start] of one chunk: linear ramps over ``overlap`` frames where it
    meets a neighbour, 1 elsewhere (never 0, so the normalised sum is defined everywhere)."""
    weight = torch.ones(end - start)
    ramp = (torch.arange(min(overlap, end - start)) + 0.5) / max(overlap, 1)
    if start > 0:
        weight[: len(ramp)] = ramp
    if end < frames:
        weight[len(weight) - len(ramp):] = torch.minimum(weight[len(weight) - len(ramp):], ramp.flip(0))
    return weight


def noise_like(style: torch.Tensor, shape: tuple[int, int, int], seed: int) -> torch.Tensor:
    """A noise spectrogram of ``shape`` [C,F,T]: uniform on [0, 2m] where m is the style's mean
    log-magnitude in each frequency bin, so that it starts with the style's average spectrum.
    (Ulyanov and Lebedev start from Gaussian noise of 1e-3; this converges in fewer iterations.)"""
    generator = torch.Generator().manual_seed(seed)
    mean = style.mean(dim=(0, 2)).reshape(1, -1, 1).cpu()
    return (torch.rand(shape, generator=generator) * 2 * mean).to(style.device)


def synthesise(style: torch.Tensor, config: AudioConfig, content: torch.Tensor | None = None, *,
               frames: int = 0, channels: int = 1, callbacks: Iterable[Callback] = (),
               cancel: CancelToken | None = None, task: str = "audio") -> torch.Tensor:
    """The optimised log-magnitude spectrogram [C,F,T] (unbounded) in the style of ``style`` [Cs,F,Ts].

    With ``content`` [C,F,T] (and ``config.content_weight`` > 0) that is a style transfer; without,
    a texture of ``frames`` frames and ``channels`` channels. Inputs longer than
    ``config.chunk_seconds`` are optimised in overlapping chunks with the same filters and style
    Gram, each for ``config.iterations``, and cross-faded, so memory stays that of one chunk.
    Callbacks get a ``task`` event after every step (stage "chunk k/n", preview the chunk's
    spectrogram); a cancelled ``cancel`` raises Cancelled with the current chunk's spectrogram.
    """
    bins = style.shape[1]
    features = RandomFeatures(bins, config.filters, config.filter_width, config.seed).to(style.device)
    chunk, overlap = config.frames(config.chunk_seconds), config.frames(config.chunk_overlap)
    gram = style_gram(features, style, chunk)
    if content is not None:
        channels, _, frames = content.shape
    from_content = content is not None and config.init == "content" and config.content_weight > 0
    start = content if from_content else noise_like(style, (channels, bins, frames), config.seed)
    spans = chunk_spans(frames, chunk, overlap)
    clock = Clock(len(spans) * config.iterations)
    result = torch.zeros(channels, bins, frames, device=style.device)
    weight = torch.zeros(frames, device=style.device)
    for k, (a, b) in enumerate(spans):
        target = None if content is None else content[..., a:b]
        objective = AudioObjective(features, gram, config, target, channels)
        # Unclamped, as in Ulyanov and Lebedev: clamping at 0 (a magnitude of 0) spoils the curvature
        # pairs of L-BFGS, which then diverged in our trials; magnitude() clamps at the end.
        piece = optimise(objective, start[..., a:b], config, callbacks, done=k * config.iterations,
                         total=len(spans) * config.iterations, bounds=None, cancel=cancel, task=task,
                         stage=f"chunk {k + 1}/{len(spans)}", clock=clock)
        fade = _fade(a, b, frames, overlap).to(style.device)
        result[..., a:b] += piece * fade
        weight[a:b] += fade
    return result / weight
