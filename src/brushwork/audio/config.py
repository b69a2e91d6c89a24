"""AudioConfig: every default of an audio style transfer or texture synthesis, validated once.

The CLI builds ``brushwork audio`` and ``brushwork texture`` options from these fields; errors name
the field (``n_fft 8: must be 16 to 16384``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from brushwork.config import Settings, _check, _check_weights, _opt, check_choices, check_types


@dataclass(frozen=True)
class AudioConfig(Settings):
    """Every setting of an audio style transfer or texture synthesis (Ulyanov and Lebedev 2016).

    A log-magnitude spectrogram is a 1-D image whose frequency bins are channels; one wide random
    convolution and a ReLU give the features (README, "Audio style transfer", for how the defaults
    were measured).
    """

    sample_rate: int = _opt(22050, "working sample rate in Hz; inputs are resampled to it, the output back "
                            "to the content's rate")
    n_fft: int = _opt(2048, "STFT size in samples: n_fft/2+1 frequency bins are the feature channels")
    hop_length: int = _opt(512, "STFT hop in samples: one spectrogram frame per hop")
    # Ulyanov and Lebedev use 4096 filters; 1024 cost a quarter of the time per iteration on a CPU
    # (the Gram matrix grows with their square) and still lowered the style loss 30x (README).
    filters: int = _opt(1024, "random convolution filters, the feature channels (Ulyanov and Lebedev: 4096)")
    filter_width: int = _opt(11, "width of each filter in spectrogram frames, odd (Ulyanov and Lebedev: 11)")
    content_weight: float = _opt(1.0, "alpha: weight of the content loss; 0 makes a texture the length of "
                                 "the content")
    style_weight: float = _opt(10.0, "beta: weight of the style loss")
    # The style loss of the demo had fallen to within 2% of its value at 200 steps by step 100.
    iterations: int = _opt(100, "L-BFGS steps on the spectrogram (per chunk of a long input)")
    init: Literal["content", "noise"] = _opt(
        "content", "starting spectrogram: the content's or noise (a texture always starts from noise)",
        choices=("content", "noise"))
    optimizer: Literal["lbfgs", "adam"] = _opt("lbfgs", "optimiser on the spectrogram", choices=("lbfgs", "adam"))
    learning_rate: float = _opt(0.05, "Adam step size, in units of log(1 + magnitude) (L-BFGS takes 1)")
    griffin_lim_iterations: int = _opt(100, "fast Griffin-Lim iterations that recover the phase")
    seed: int = _opt(0, "random seed of the filters, the noise start and the Griffin-Lim start phase")
    duration: float = _opt(10.0, "length of a synthesised texture in seconds (texture only)")
    chunk_seconds: float = _opt(20.0, "inputs longer than this are optimised in chunks of this length, "
                                "which bounds memory")
    chunk_overlap: float = _opt(2.0, "seconds by which neighbouring chunks overlap; they are cross-faded there")
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps")

    def __post_init__(self) -> None:
        check_types(self)
        _check(4000 <= self.sample_rate <= 192_000, "sample_rate", "must be 4000 to 192000 Hz", self.sample_rate)
        _check(16 <= self.n_fft <= 16384, "n_fft", "must be 16 to 16384", self.n_fft)
        _check(1 <= self.hop_length <= self.n_fft, "hop_length", f"must be 1 to n_fft ({self.n_fft})",
               self.hop_length)
        _check(1 <= self.filters <= 16384, "filters", "must be 1 to 16384", self.filters)
        _check(1 <= self.filter_width <= 255 and self.filter_width % 2 == 1, "filter_width",
               "must be odd, 1 to 255", self.filter_width)
        _check_weights(self, ("content_weight", "style_weight"))
        _check(1 <= self.iterations <= 100_000, "iterations", "must be 1 to 100000", self.iterations)
        _check(1 <= self.griffin_lim_iterations <= 10_000, "griffin_lim_iterations", "must be 1 to 10000",
               self.griffin_lim_iterations)
        _check(self.learning_rate > 0, "learning_rate", "must be positive", self.learning_rate)
        _check(0 < self.duration <= 3600, "duration", "must be above 0 and at most 3600 s", self.duration)
        _check(0 <= self.chunk_overlap, "chunk_overlap", "must be zero or positive", self.chunk_overlap)
        _check(self.chunk_seconds >= 2 * self.chunk_overlap and self.chunk_seconds > 0, "chunk_seconds",
               f"must be positive and at least twice chunk_overlap ({self.chunk_overlap})", self.chunk_seconds)
        check_choices(self)

    def frames(self, seconds: float) -> int:
        """The number of spectrogram frames (hops) in ``seconds``, at least 1."""
        return max(1, round(seconds * self.sample_rate / self.hop_length))
