"""Colour preservation: the two methods of Gatys, Bethge, Hertzmann and Shechtman (2016),
"Preserving Color in Neural Artistic Style Transfer".

Images are float tensors [B,3,H,W], RGB in [0,1]; every function returns a new tensor.

* Luminance-only transfer: stylise ``luminance(content)`` towards
  ``match_luminance(luminance(style), luminance(content))``, then ``recombine(result, content)`` puts the
  content's colours back. The luminance images are the Y channel replicated into three equal channels so
  that they go through a VGG that expects RGB.
* Colour histogram matching: stylise as usual with ``match_colour(style, content)`` as the style image, a
  linear recolouring of the style whose mean and covariance are the content's.

The same linear recolouring, the other way round, makes the default start of a stylisation: the content
in the painting's palette (``match_palette``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from brushwork.image import resize

# NTSC (FCC) RGB -> YIQ. The Y row sums to one, so white has Y = 1 and black Y = 0; the I and Q rows sum
# to zero, so greys have no chrominance. The inverse is computed, not rounded, so the two are exact inverses.
_RGB_TO_YIQ = torch.tensor([
    [0.299, 0.587, 0.114],
    [0.5959, -0.2746, -0.3213],
    [0.2115, -0.5227, 0.3112],
], dtype=torch.float64)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)

# A variance below one 8-bit level squared ((1/255)² ≈ 1.5e-5) counts as flat: it is raised to this value
# before dividing by a standard deviation, so a flat or greyscale style stays finite.
_VAR_EPS = 1e-5


def _mix_channels(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``matrix`` [3,3] applied to the channel vector of every pixel of ``x`` [B,3,H,W]."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(x), x)


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """RGB [B,3,H,W] in [0,1] -> YIQ [B,3,H,W], Y in [0,1]."""
    return _mix_channels(_RGB_TO_YIQ, x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """YIQ [B,3,H,W] -> RGB [B,3,H,W]; the exact inverse of ``rgb_to_yiq`` (not clamped)."""
    return _mix_channels(_YIQ_TO_RGB, x)


def _replicate(y: torch.Tensor) -> torch.Tensor:
    """One channel [B,1,H,W] -> three equal channels [B,3,H,W], a grey RGB image."""
    return y.repeat(1, 3, 1, 1)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """RGB [B,3,H,W] in [0,1] -> its Y channel replicated into three equal channels, [B,3,H,W] in [0,1]."""
    return _replicate(rgb_to_yiq(x)[:, :1])


def match_luminance(style_lum: torch.Tensor, content_lum: torch.Tensor) -> torch.Tensor:
    """The style's luminance rescaled to the content's mean and standard deviation, clamped to [0,1].

    Inputs are replicated luminance images [B,3,H,W] (sizes may differ); the output has the style's shape.
    The paper's linear map Y_s' = σ_c/σ_s (Y_s - μ_s) + μ_c, which stops the style's overall brightness
    and contrast from overriding the content's.
    """
    y_s, y_c = style_lum[:, :1], content_lum[:, :1]
    var_s, mu_s = torch.var_mean(y_s, dim=(1, 2, 3), correction=0, keepdim=True)
    var_c, mu_c = torch.var_mean(y_c, dim=(1, 2, 3), correction=0, keepdim=True)
    matched = (y_s - mu_s) * (var_c.sqrt() / var_s.clamp_min(_VAR_EPS).sqrt()) + mu_c
    return _replicate(matched).clamp(0, 1)


def recombine(stylized_lum: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylised luminance with the content's colours: Y of ``stylized_lum``, I and Q of ``content``.

    ``stylized_lum`` is [B,3,H,W] (its Y is taken, so it need not be exactly grey); ``content`` [B,3,H',W']
    is resized to H,W (bicubic, antialiased) if needed. Returns RGB [B,3,H,W] clamped to [0,1].
    """
    content = resize(content, *stylized_lum.shape[-2:])
    yiq = torch.cat([rgb_to_yiq(stylized_lum)[:, :1], rgb_to_yiq(content)[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def _sym_sqrt(cov: torch.Tensor, inverse: bool) -> torch.Tensor:
    """Σ^{1/2} (or Σ^{-1/2}) of symmetric positive semi-definite matrices [B,3,3] by eigendecomposition.

    For the inverse, eigenvalues are raised to ``_VAR_EPS`` so that the flat directions of a greyscale or
    flat image stay finite; for the square root they are only raised to zero (eigh may return -1e-17).
    """
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(_VAR_EPS).rsqrt() if inverse else vals.clamp_min(0).sqrt()
    return vecs @ torch.diag_embed(vals) @ vecs.transpose(-1, -2)


def pixel_stats(x: torch.Tensor, dtype: torch.dtype = torch.float64
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixels [B,3,N] of ``x`` [B,3,H,W] in ``dtype``, their mean [B,3,1] and covariance [B,3,3] over N."""
    pixels = x.flatten(2).to(dtype)
    mean = pixels.mean(dim=2, keepdim=True)
    centred = pixels - mean
    return pixels, mean, centred @ centred.transpose(1, 2) / pixels.shape[2]


def match_colour(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style recoloured so its RGB mean and 3x3 covariance are the content's, clamped to [0,1].

    ``style`` [1,3,H,W] and ``content`` [1,3,H',W'] (sizes may differ) -> ``style``'s shape and dtype.
    The paper's colour histogram matching with the image-analogies transform x' = A (x - μ_s) + μ_c,
    A = Σ_c^{1/2} Σ_s^{-1/2}, so that A Σ_s Aᵀ = Σ_c. Computed in float64: Σ_s^{-1/2} is ill-conditioned
    for low-contrast styles.
    """
    _, mu_c, cov_c = pixel_stats(content)
    return _recolour(style, mu_c, cov_c)


def match_palette(image: torch.Tensor, palettes: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """``image`` [1,3,H,W] recoloured to the RGB mean and covariance of a blend of ``palettes`` (images
    [1,3,h,w] of any size, e.g. the style images) mixed by ``weights`` (summing to one), clamped to [0,1].

    The blend's statistics are those of the pooled pixels when each image contributes its weight's share:
    μ = Σ wᵢ μᵢ and Σ = Σ wᵢ (Σᵢ + μᵢ μᵢᵀ) - μ μᵀ. With one palette this is ``match_colour(image, palette)``.
    """
    stats = [pixel_stats(p)[1:] for p in palettes]
    mean = sum(w * mu for w, (mu, _) in zip(weights, stats))
    second = sum(w * (cov + mu @ mu.transpose(1, 2)) for w, (mu, cov) in zip(weights, stats))
    return _recolour(image, mean, second - mean @ mean.transpose(1, 2))


def _recolour(image: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``image`` [1,3,H,W] mapped affinely to RGB ``mean`` [1,3,1] and covariance ``cov`` [1,3,3], clamped."""
    pixels, mu, own = pixel_stats(image)
    transform = _sym_sqrt(cov, inverse=False) @ _sym_sqrt(own, inverse=True)
    matched = transform @ (pixels - mu) + mean
    return matched.reshape(image.shape).to(image.dtype).clamp(0, 1)
