"""Colour preservation (Gatys et al. 2016): YIQ, luminance matching and recombination, colour matching."""

from __future__ import annotations

import torch

from brushwork.colour import luminance, match_colour, match_luminance, match_palette, recombine, rgb_to_yiq, yiq_to_rgb


def _soft_colours(seed: int, h: int, w: int, spread: float = 0.08) -> torch.Tensor:
    """A [1,3,h,w] image of correlated colours around mid grey, far enough from 0 and 1 not to clip."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(3, 3, generator=g)
    noise = torch.einsum("ij,bjhw->bihw", mixing, torch.randn(1, 3, h, w, generator=g))
    image = 0.5 + spread * noise / noise.std()
    assert 0 < image.min() and image.max() < 1
    return image


def _mean_cov(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = x.reshape(3, -1).double()
    return pixels.mean(dim=1), torch.cov(pixels, correction=0)


def test_yiq_round_trip_is_exact() -> None:
    x = torch.rand(2, 3, 9, 7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-5)
    assert torch.allclose(rgb_to_yiq(yiq_to_rgb(x)), x, atol=1e-5)


def test_white_black_and_grey_luminance() -> None:
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert torch.allclose(rgb_to_yiq(white), torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2),
                          atol=1e-6)
    assert torch.equal(rgb_to_yiq(black), black)
    x = torch.rand(2, 3, 5, 6, generator=torch.Generator().manual_seed(1))
    lum = luminance(x)
    assert lum.shape == x.shape
    assert torch.equal(lum[:, 0], lum[:, 1]) and torch.equal(lum[:, 0], lum[:, 2])
    expected_y = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    assert torch.allclose(lum[:, 0], expected_y, atol=1e-6)


def test_match_luminance_takes_the_contents_mean_and_std() -> None:
    g = torch.Generator().manual_seed(2)
    style = luminance(torch.rand(1, 3, 12, 10, generator=g))
    content = luminance(0.4 + 0.2 * torch.rand(1, 3, 8, 16, generator=g))
    out = match_luminance(style, content)
    assert out.shape == style.shape
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])
    assert 0 < out.min() and out.max() < 1  # nothing clipped, so the statistics are exact
    std_out, mean_out = torch.std_mean(out[:, 0], correction=0)
    std_c, mean_c = torch.std_mean(content[:, 0], correction=0)
    assert torch.allclose(mean_out, mean_c, atol=1e-5) and torch.allclose(std_out, std_c, atol=1e-5)
    assert not torch.allclose(torch.std_mean(style[:, 0], correction=0)[0], std_c, atol=1e-2)


def test_match_luminance_of_a_flat_style_is_the_contents_mean() -> None:
    content = luminance(torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(3)))
    out = match_luminance(torch.full((1, 3, 4, 4), 0.8), content)
    assert torch.allclose(out, content[:, 0].mean().expand(1, 3, 4, 4), atol=1e-5)


def test_recombining_the_contents_own_luminance_gives_the_content() -> None:
    content = torch.rand(1, 3, 10, 8, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(recombine(luminance(content), content), content, atol=1e-5)


def test_recombine_takes_stylized_luminance_and_content_chrominance() -> None:
    g = torch.Generator().manual_seed(5)
    content = 0.45 + 0.1 * torch.rand(1, 3, 10, 8, generator=g)  # low saturation: no clipping below
    stylized = luminance(0.3 + 0.4 * torch.rand(1, 3, 10, 8, generator=g))
    out = recombine(stylized, content)
    assert 0 < out.min() and out.max() < 1
    yiq = rgb_to_yiq(out)
    assert torch.allclose(yiq[:, 0], stylized[:, 0], atol=1e-5)
    assert torch.allclose(yiq[:, 1:], rgb_to_yiq(content)[:, 1:], atol=1e-5)


def test_recombine_resizes_the_content_to_the_stylized_size() -> None:
    colour = torch.tensor([0.6, 0.4, 0.3]).view(1, 3, 1, 1)
    content = colour.expand(1, 3, 16, 16).clone()
    stylized = luminance(torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(6)) * 0.4 + 0.3)
    out = recombine(stylized, content)
    assert out.shape == (1, 3, 8, 12)
    assert torch.allclose(rgb_to_yiq(out)[:, 1:], rgb_to_yiq(colour)[:, 1:].expand(1, 2, 8, 12), atol=1e-5)


def test_match_colour_takes_the_contents_mean_and_covariance() -> None:
    style, content = _soft_colours(7, 24, 20), _soft_colours(8, 16, 30, spread=0.05)
    out = match_colour(style, content)
    assert out.shape == style.shape and out.dtype == style.dtype
    assert 0 < out.min() and out.max() < 1
    mean_out, cov_out = _mean_cov(out)
    mean_c, cov_c = _mean_cov(content)
    assert torch.allclose(mean_out, mean_c, atol=1e-5)
    assert torch.allclose(cov_out, cov_c, rtol=1e-3, atol=1e-6)
    assert not torch.allclose(_mean_cov(style)[1], cov_c, atol=1e-4)


def test_match_colour_of_a_greyscale_style_is_finite() -> None:
    grey = luminance(torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(9)))
    content = _soft_colours(10, 12, 12)
    out = match_colour(grey, content)
    assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
    assert torch.allclose(_mean_cov(out)[0], _mean_cov(content)[0], atol=1e-2)
    flat = match_colour(torch.full((1, 3, 5, 5), 0.7), content)
    assert torch.allclose(flat, _mean_cov(content)[0].float().view(1, 3, 1, 1).expand(1, 3, 5, 5), atol=1e-5)


def test_match_colour_keeps_the_styles_shape() -> None:
    style, content = _soft_colours(11, 9, 21), _soft_colours(12, 32, 14)
    assert match_colour(style, content).shape == (1, 3, 9, 21)


def test_match_palette_takes_the_pooled_statistics_of_weighted_palettes() -> None:
    image = _soft_colours(13, 20, 20)
    warm, cool = _soft_colours(14, 10, 30, spread=0.05), _soft_colours(15, 20, 20, spread=0.05)
    out = match_palette(image, [warm, cool], [0.25, 0.75])
    assert out.shape == image.shape
    # The pooled pixels of one copy of warm and three of cool (each has 300 or 400 pixels: the weights
    # are shares of the pool, not of the pixel counts).
    pooled = torch.cat([warm.flatten(2).repeat(1, 1, 4), cool.flatten(2).repeat(1, 1, 9)], dim=2)
    mean_p, cov_p = _mean_cov(pooled.reshape(1, 3, 1, -1))
    mean_out, cov_out = _mean_cov(out)
    assert torch.allclose(mean_out, mean_p, atol=1e-5)
    assert torch.allclose(cov_out, cov_p, rtol=1e-3, atol=1e-6)
    assert torch.equal(match_palette(image, [warm], [1.0]), match_colour(image, warm))
