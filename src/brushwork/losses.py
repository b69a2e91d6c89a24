"""The losses of Gatys, Ecker and Bethge (2015), each a pure function plus a thin weighted module.

Shapes: features are [B,N,H,W] (N channels, M = H*W positions); Gram matrices are [B,N,N].

Normalisation (a departure from the paper, for weights that work at every size and backbone):
Gatys et al. rescale the network so that every filter's mean activation is one, which keeps the
layers of the style loss in balance, and they state their losses for one image size. We leave the
weights as trained and instead divide each layer's loss by the squared norm of its own target:

* content: ``content_loss(F, P) / sum(P**2)``, i.e. half the relative squared error;
* style: ``style_layer_loss(G, A) / mean(A**2)`` with Grams averaged over positions, i.e. a quarter of
  the relative squared error of the Gram matrix, for every layer whatever its scale.

Both are invariant to the scale of each layer's activations (so VGG weights with Caffe 0-255 inputs
and torchvision's [0,1] inputs share one set of default weights) and to the number of positions M
(so one set of weights serves 128 px and 2048 px alike).
"""

from __future__ import annotations

import torch
from torch import nn

from brushwork.colour import rgb_to_yiq
from brushwork.config import LAYOUT_FACTOR
from brushwork.image import resize


def _positive(x: torch.Tensor) -> torch.Tensor:
    """``x`` raised to the smallest positive normal number, so that an all-zero target divides safely."""
    return x.clamp_min(torch.finfo(x.dtype).tiny)


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations averaged over positions: [B,N,H,W] -> [B,N,N], G = F Fᵀ / M.

    With a ``mask`` [B,1,H,W] in [0,1] the average is weighted: G = F diag(m) Fᵀ / Σm, the
    correlations of the masked region alone (spatial control, Gatys et al. 2017).
    """
    b, n, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        # [B,M,N] is a view of channels-last memory: no copy here, and the gradient comes back
        # channels-last like the network's own (measured: README, "Speed").
        rows = features.permute(0, 2, 3, 1).reshape(b, h * w, n)
        cols = rows.transpose(1, 2)
    else:
        cols = features.reshape(b, n, h * w)
        rows = cols.transpose(1, 2)
    if mask is None:
        return cols @ rows / (h * w)
    m = mask.reshape(b, 1, h * w)
    return (cols * m) @ rows / _positive(m.sum(dim=2, keepdim=True))


def content_loss(features: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Paper eq. 1: ½ Σ (F - P)², summed over the whole batch. Shapes [B,N,H,W]; returns a scalar.

    A ``mask`` [B,1,H,W] in [0,1] weights each position: where it is 0 the content does not count.
    """
    squared = (features - target).pow(2)
    return 0.5 * (squared if mask is None else squared * mask).sum()


def relative_content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """:func:`content_loss` of each image divided by its ``sum(target**2)``, averaged over the batch: 0
    for the target itself, about 1 or less for an unrelated image of like scale; finite even for an
    all-zero target. Shapes [B,N,H,W]; returns a scalar.

    Per image, so that a batch split between processes (data-parallel training) has the same loss as
    the whole batch in one process.
    """
    squared = 0.5 * (features - target).pow(2).flatten(1).sum(1)
    return (squared / target.pow(2).flatten(1).sum(1).clamp_min(1e-30)).mean()


def style_layer_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Paper eq. 4: E = 1/(4 N² M²) Σ (G - A)², written for Grams already divided by M ([B,N,N]).

    Dividing each Gram by its own image's M makes the loss defined when the style image has another
    size than the output; for equal sizes it is exactly the paper's E.
    """
    n = gram.shape[-1]
    return (gram - target).pow(2).sum() / (4 * n * n)


def layout(image: torch.Tensor, factor: int) -> torch.Tensor:
    """The light and dark of RGB [B,3,H,W] in [0,1]: its luminance (BT.601) resized to 1/``factor`` of
    each side (at least 1 px), [B,1,H/factor,W/factor] in [0,1]."""
    h, w = image.shape[-2:]
    return resize(rgb_to_yiq(image)[:, :1], max(1, h // factor), max(1, w // factor))


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between vertically and horizontally adjacent pixels of [B,C,H,W]."""
    dy = (image[..., 1:, :] - image[..., :-1, :]).pow(2).mean()
    dx = (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean()
    return dy + dx


class ContentLoss(nn.Module):
    """Weighted content loss against fixed target features [1,N,H,W], normalised by ``sum(P**2)``.

    ``mask`` [1,1,H,W] (the layer's size) says where the content counts; the normalisation stays that
    of the whole image, so a mask only ever lowers the loss.
    """

    def __init__(self, target: torch.Tensor, weight: float = 1.0, mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.weight = weight
        self.register_buffer("target", target.detach())
        self.register_buffer("mask", mask)
        self.register_buffer("norm", 1.0 / _positive(target.detach().pow(2).sum()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.weight * self.norm * content_loss(features, self.target, self.mask)


class StyleLoss(nn.Module):
    """Weighted style loss of one layer against a target Gram [1,N,N], normalised by ``mean(A**2)``.

    With a ``mask`` [1,1,H,W] (the layer's size) only the masked region's Gram is compared.
    """

    def __init__(self, target_gram: torch.Tensor, weight: float = 1.0, mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.weight = weight
        self.register_buffer("target", target_gram.detach())
        self.register_buffer("mask", mask)
        self.register_buffer("norm", 1.0 / _positive(target_gram.detach().pow(2).mean()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.weight * self.norm * style_layer_loss(gram_matrix(features, self.mask), self.target)


class LayoutLoss(nn.Module):
    """Weighted squared error of an image's :func:`layout` against a target image's, divided by the
    variance of the target's (a relative error: about 2 for an unrelated layout of like contrast).

    The VGG features of the content loss respond to edges and texture; in flat regions (a wall, the sky,
    water) they barely depend on the brightness, so on its own the content loss lets a noise start lose
    the subject's light and dark. This term holds them at a scale far coarser than any brush stroke.
    """

    def __init__(self, target: torch.Tensor, weight: float = 1.0, factor: int = LAYOUT_FACTOR) -> None:
        super().__init__()
        self.weight, self.factor = weight, factor
        low = layout(target.detach(), factor)
        self.register_buffer("target", low)
        self.register_buffer("norm", 1.0 / _positive(low.var(unbiased=False)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.weight * self.norm * (layout(image, self.factor) - self.target).pow(2).mean()


class TVLoss(nn.Module):
    """Weighted total-variation loss of an image [B,C,H,W] in [0,1]."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.weight * total_variation(image)
