"""The audio objective on generated signals: style statistics move to the style's, content stays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from audio_signals import bursts, chord, fast_config, melody, sound

from brushwork.audio.api import stylize_audio, synthesize_texture
from brushwork.audio.spectrogram import log_magnitude
from brushwork.audio.transfer import RandomFeatures, _fade, chunk_spans, style_gram, synthesise
from brushwork.losses import gram_matrix


def _spec(samples: np.ndarray, n_fft: int = 256, hop: int = 64) -> torch.Tensor:
    return log_magnitude(torch.from_numpy(samples).reshape(1, -1), n_fft, hop)


# At these small settings (128 filters) the chord needs a stronger style weight than the bursts to
# lower the Gram distance 5x, and more than 5 (bursts) or 10 (chord) gives up the content.
@pytest.mark.parametrize("make_style, style_weight", [(bursts, 5.0), (chord, 10.0)])
def test_style_statistics_move_to_the_style_and_content_stays(make_style, style_weight: float) -> None:
    config = fast_config(style_weight=style_weight, iterations=100)
    content, style = _spec(melody()), _spec(make_style())
    seen = []
    out = synthesise(style, config, content, callbacks=[seen.append])
    assert out.shape == content.shape
    features = RandomFeatures(content.shape[1], config.filters, config.filter_width, config.seed)
    target = style_gram(features, style, 10**6)
    with torch.no_grad():
        before = (gram_matrix(features(content)) - target).norm()
        after = (gram_matrix(features(out)) - target).norm()
        f_out, f_content, f_style = features(out), features(content), features(style)
    assert after < before / 5
    assert (f_out - f_content).norm() < (f_out - f_style).norm()
    assert seen[-1].losses["style"] < seen[0].losses["style"] / 5
    assert [p.step for p in seen] == list(range(1, config.iterations + 1))


def test_chunk_spans_cover_and_overlap() -> None:
    assert chunk_spans(50, 100, 10) == [(0, 50)]
    spans = chunk_spans(250, 100, 20)
    assert spans[0][0] == 0 and spans[-1][1] == 250
    assert all(b - a == 100 for a, b in spans)
    assert all(next_a <= b - 20 for (_, b), (next_a, _) in zip(spans, spans[1:]))
    total = torch.zeros(250)
    for a, b in spans:
        total[a:b] += _fade(a, b, 250, 20)
    assert total.min() > 0  # every frame is covered by some weight


def test_long_input_goes_through_chunks_and_keeps_its_length() -> None:
    config = fast_config(chunk_seconds=0.5, chunk_overlap=0.1, iterations=5)
    content = sound(melody(2.0, 11025), bursts(2.0, 11025), rate=11025)  # stereo at another rate
    seen = []
    out = stylize_audio(content, sound(bursts(1.0)), config, callbacks=[seen.append])
    chunks = len(chunk_spans(1 + 2 * 8000 // 64, config.frames(0.5), config.frames(0.1)))
    assert chunks >= 4 and seen[-1].total == chunks * config.iterations == len(seen)
    assert out.samples.shape == content.samples.shape and out.sample_rate == 11025


def test_stereo_and_resampling_keep_length_channels_and_loudness() -> None:
    content = sound(melody(1.0, 22050), 0.5 * melody(1.0, 22050), rate=22050)
    out = stylize_audio(content, sound(chord(1.0, 16000), rate=16000), fast_config(iterations=10))
    assert out.samples.shape == (2, 22050) and out.sample_rate == 22050
    assert np.abs(out.samples).max() <= 0.98
    rms = lambda x: np.sqrt(np.mean(x ** 2))  # noqa: E731
    assert rms(out.samples) == pytest.approx(rms(content.samples), rel=0.05)


def test_texture_has_the_asked_duration_and_follows_the_style() -> None:
    config = fast_config(duration=1.25)
    out = synthesize_texture(sound(bursts(1.0), bursts(1.0, seed=1)), config)
    assert out.samples.shape == (2, 10000) and out.sample_rate == 8000
    # noise bursts are broadband: the texture's spectrum is not the melody's few lines
    spectrum = np.abs(np.fft.rfft(out.samples[0]))
    assert (spectrum > spectrum.max() / 10).mean() > 0.05


@pytest.mark.parametrize("options", [{"content_weight": 0.0}, {"init": "noise"}, {"optimizer": "adam"}])
def test_other_starts_and_optimisers_keep_the_length(options: dict) -> None:
    out = stylize_audio(sound(melody(1.0)), sound(bursts(1.0)), fast_config(iterations=5, **options))
    assert out.samples.shape == (1, 8000) and np.isfinite(out.samples).all()


def test_the_start_is_the_contents_spectrogram_or_noise() -> None:
    content, style = _spec(melody()), _spec(bursts())
    results, first = {}, {}
    for init in ("content", "noise"):
        seen = []
        results[init] = synthesise(style, fast_config(iterations=1, init=init), content, callbacks=[seen.append])
        first[init] = seen[0].losses["content"]
    # One L-BFGS step moves little: from the content it is still the content, from noise still noise.
    assert first["content"] < first["noise"] / 10
    assert (results["content"] - content).abs().mean() < (results["noise"] - content).abs().mean() / 10


def test_equal_seeds_give_equal_results() -> None:
    config = fast_config(iterations=5, griffin_lim_iterations=5)
    a = stylize_audio(sound(melody(0.5)), sound(chord(0.5)), config)
    b = stylize_audio(sound(melody(0.5)), sound(chord(0.5)), config)
    assert np.array_equal(a.samples, b.samples)
